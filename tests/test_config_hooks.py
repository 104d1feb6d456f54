"""`[hooks]` and `[events]` keys: each fault stops start-up naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import ConfigError, load_config
from tests.support.config import toml_text

GOOD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def load(tmp_path: Path, sections: dict) -> None:
    path = tmp_path / "gatekeeper.toml"
    path.write_text(toml_text(sections))
    load_config(str(path), environ={})


@pytest.mark.parametrize(
    ("sections", "named"),
    [
        ({"hooks": {"postmark_username": "u"}}, "hooks.postmark_password"),
        ({"hooks": {"ses_topic_arns": ["my-topic"]}}, "hooks.ses_topic_arns"),
        ({"hooks": {"max_age": "soon"}}, "hooks.max_age"),
        ({"events": {"webhooks": [{"url": "ftp://x", "secret": GOOD_SECRET}]}}, ".url"),
        ({"events": {"webhooks": [{"url": "http://x", "secret": "plain"}]}}, ".secret"),
        (
            {"events": {"webhooks": [{"url": "http://x", "secret": GOOD_SECRET, "events": ["x"]}]}},
            ".events",
        ),
    ],
)
def test_bad_values_name_their_key(tmp_path: Path, sections: dict, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load(tmp_path, sections)


def test_a_webhook_takes_every_event_by_default(tmp_path: Path) -> None:
    path = tmp_path / "gatekeeper.toml"
    path.write_text(
        toml_text({"events": {"webhooks": [{"url": "http://x", "secret": GOOD_SECRET}]}})
    )
    (hook,) = load_config(str(path), environ={}).events.webhooks
    assert "refused" in hook.events and "delivered" in hook.events and hook.key
