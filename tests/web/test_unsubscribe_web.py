"""The unsubscribe endpoint over real HTTP against a running gateway (docs/design.md §6)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from gateway.consent import tokens
from gateway.store.records import DecisionQuery, SuppressionEntry
from gateway.web.unsubscribe import csrf_value
from tests.support.seed import seed_contact
from tests.support.unsubscribe import (
    ADDRESS,
    ONE_CLICK,
    SECRET,
    Site,
    assert_secure_headers,
    csrf,
    token_for,
)


def tampered(key: str) -> str:
    """The key with its last hex digit changed (never to the digit it had)."""
    return key[:-1] + ("0" if key[-1] != "0" else "1")


def stale_csrf(token: str) -> str:
    """A valid resubscribe key for a choice the current page no longer offers."""
    return csrf_value(SECRET.encode(), token, "resubscribe")


@pytest.fixture
async def site(gateway_factory: Any, upstream: Any) -> AsyncIterator[Site]:
    gw = await gateway_factory(
        upstream.url, unsubscribe={"secret": [SECRET]}, identity={"name": "Example Shop"}
    )
    await seed_contact(gw.store, ADDRESS, "newsletter", "offers")
    async with aiohttp.ClientSession() as http:
        yield Site(gw, http)


async def test_one_click_urlencoded_suppresses_and_records(site: Site) -> None:
    status, text, headers = await site.post(token_for("newsletter"), ONE_CLICK)
    assert status == 200
    assert "You are unsubscribed" in text and ADDRESS in text
    assert_secure_headers(headers)
    [entry] = await site.gw.store.suppressions(ADDRESS)
    assert (entry.scope, entry.reason, entry.source) == ("newsletter", "unsubscribed", "one-click")
    view = await site.gw.store.contact(ADDRESS)
    [event] = [e for e in view.events if e.kind == "unsubscribe"]
    assert (event.topic, event.source) == ("newsletter", "one-click")
    assert json.loads(event.proof)["ip"] == "127.0.0.1"
    assert "Python" in json.loads(event.proof)["user_agent"]  # aiohttp's default agent
    consent = next(c for c in view.consents if c["topic"] == "newsletter")
    assert consent["withdrawn_at"] is not None
    await site.gw.writer.flush()
    [(_, decision)] = await site.gw.store.decisions(DecisionQuery(phase="unsubscribe"))
    assert (decision.action, decision.reason, decision.topic, decision.detail) == (
        "deny",
        "unsubscribed",
        "newsletter",
        "one-click",
    )


async def test_one_click_multipart_suppresses(site: Site) -> None:
    form = aiohttp.FormData(ONE_CLICK, default_to_multipart=True)
    status, _, _ = await site.post(token_for("all"), form)
    assert status == 200
    [entry] = await site.gw.store.suppressions(ADDRESS)
    assert (entry.scope, entry.reason) == ("all", "unsubscribed")


async def test_repeated_one_click_is_harmless(site: Site) -> None:
    token = token_for("offers")
    first = await site.post(token, ONE_CLICK)
    second = await site.post(token, ONE_CLICK)
    assert first[0] == second[0] == 200 and first[1] == second[1]
    assert len(await site.gw.store.suppressions(ADDRESS)) == 1
    view = await site.gw.store.contact(ADDRESS)
    assert [e.kind for e in view.events].count("unsubscribe") == 1
    await site.gw.writer.flush()
    assert len(await site.gw.store.decisions(DecisionQuery(phase="unsubscribe"))) == 1


async def test_get_shows_choices_and_changes_nothing(site: Site) -> None:
    status, text, headers = await site.get(token_for("newsletter"))
    assert status == 200
    assert_secure_headers(headers)
    assert '<html lang="en">' in text and '<form method="post">' in text
    assert headers["Content-Language"] == "en"
    assert ADDRESS in text and "Example Shop" in text
    for topic in ("newsletter", "offers"):
        assert f'value="{topic}"' in text and f"emails about “{topic}”</label>" in text
    assert 'value="all"' in text
    assert not re.search(r"<(script|link|img)\b|https?://", text), "no external assets"
    assert await site.gw.store.suppressions(ADDRESS) == []
    view = await site.gw.store.contact(ADDRESS)
    assert [e.kind for e in view.events] == ["grant", "grant"]


@pytest.mark.parametrize(
    ("make_token", "status", "wording"),
    [
        (lambda: tokens.issue([b"other"], ADDRESS, "all", datetime.now(UTC)), 400, "not valid"),
        (lambda: token_for("all")[:-3], 400, "not valid"),
        (lambda: token_for("all", age=timedelta(days=120)), 410, "newer email"),
    ],
    ids=["forged", "truncated", "expired"],
)
async def test_bad_tokens_are_refused_with_a_page(
    site: Site, make_token: Any, status: int, wording: str
) -> None:
    token = make_token()
    for got, text, headers in (await site.get(token), await site.post(token, ONE_CLICK)):
        assert got == status
        assert wording in text and "contact the sender" in text
        assert "Traceback" not in text
        assert_secure_headers(headers)
    assert await site.gw.store.suppressions(ADDRESS) == []


async def test_form_post_without_valid_csrf_is_refused(site: Site) -> None:
    token = token_for("newsletter")
    for data in (
        {"action": "leave", "scope": "newsletter"},
        {"action": "leave", "scope": "newsletter", "csrf": "0" * 64},
        {
            "action": "leave",
            "scope": "newsletter",
            "csrf": tampered(csrf((await site.get(token))[1], "leave")),
        },
        {"List-Unsubscribe": "One-Click", "scope": "all"},
        {},
    ):
        status, text, headers = await site.post(token, data)
        assert status == 403, data
        assert "Nothing was changed" in text
        assert_secure_headers(headers)
    assert await site.gw.store.suppressions(ADDRESS) == []


async def test_csrf_of_one_link_does_not_fit_another(site: Site) -> None:
    page = (await site.get(token_for("newsletter")))[1]
    data = {"action": "leave", "scope": "all", "csrf": csrf(page, "leave")}
    status, _, _ = await site.post(token_for("all"), data)
    assert status == 403


async def test_page_leaves_one_topic_and_resubscribes(site: Site) -> None:
    token = token_for("newsletter")
    page = (await site.get(token))[1]
    status, text, _ = await site.post(
        token, {"action": "leave", "scope": "offers", "csrf": csrf(page, "leave")}
    )
    assert status == 200 and "no longer get emails about “offers”" in text
    [entry] = await site.gw.store.suppressions(ADDRESS)
    assert (entry.scope, entry.reason, entry.source) == (
        "offers",
        "unsubscribed",
        "unsubscribe-page",
    )
    status, text, _ = await site.post(
        token, {"action": "resubscribe", "scope": "offers", "csrf": csrf(text, "resubscribe")}
    )
    # a request only: the address confirms it (tests/web/test_resubscribe_confirm.py)
    assert status == 200 and f"We sent an email to {ADDRESS}" in text
    assert [(s.scope, s.reason) for s in await site.gw.store.suppressions(ADDRESS)] == [
        ("offers", "unsubscribed")
    ]
    view = await site.gw.store.contact(ADDRESS)
    event = view.events[-1]
    assert (event.kind, event.topic, event.source) == (
        "resubscribe-request",
        "offers",
        "unsubscribe-page",
    )
    evidence = json.loads(event.proof)
    assert evidence["text"] == "Send me emails about “offers” from Example Shop again"
    assert {"time", "ip", "user_agent", "form"} <= evidence.keys()


async def test_resubscribe_never_lifts_other_reasons(site: Site) -> None:
    store = site.gw.store
    await store.suppress(
        [
            SuppressionEntry(ADDRESS, "offers", "unsubscribed", "one-click"),
            SuppressionEntry(ADDRESS, "offers", "objected", "import"),
        ]
    )
    token = token_for("offers")
    page = (await site.get(token))[1]
    assert "Get emails again" not in page
    status, text, _ = await site.post(
        token, {"action": "resubscribe", "scope": "offers", "csrf": stale_csrf(token)}
    )
    assert status == 200 and "We cannot restore emails about “offers” here" in text
    assert {(s.scope, s.reason) for s in await store.suppressions(ADDRESS)} == {
        ("offers", "unsubscribed"),
        ("offers", "objected"),
    }


async def test_hard_bounce_hides_resubscribe(site: Site) -> None:
    await site.gw.store.suppress([SuppressionEntry(ADDRESS, "all", "hard-bounce", "dsn")])
    status, text, _ = await site.get(token_for("newsletter"))
    assert status == 200
    assert "Get emails again" not in text and "contact the sender" in text


async def test_unknown_choice_is_refused(site: Site) -> None:
    token = token_for("newsletter")
    page = (await site.get(token))[1]
    data = {"action": "leave", "scope": "something-else", "csrf": csrf(page, "leave")}
    status, _, _ = await site.post(token, data)
    assert status == 400
    assert await site.gw.store.suppressions(ADDRESS) == []


async def test_no_secret_answers_503(gateway_factory: Any, upstream: Any) -> None:
    gw = await gateway_factory(upstream.url)
    token = tokens.issue([b"whatever"], ADDRESS, "all", datetime.now(UTC))
    async with aiohttp.ClientSession() as http:
        site = Site(gw, http)
        for status, text, headers in (await site.get(token), await site.post(token, ONE_CLICK)):
            assert status == 503 and "contact the sender" in text
            assert_secure_headers(headers)
