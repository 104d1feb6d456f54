"""Shadow policies (docs/policies.md, "Trying a policy in the shadow"): a candidate set that
makes Czech soft opt-in stricter (12 months after a purchase instead of 24). Live mail flows
as without it, `shadow` rows appear for exactly the customers it would refuse, `policy diff`
counts them and `policy replay` over the same traffic counts the same."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.config import ConfigError
from gateway.store.records import ContactRow, DecisionQuery
from tests.support.cli import run_cli
from tests.support.config import gateway_sections, write_config
from tests.support.messages import send
from tests.support.ops_pages import TOKEN, client, sign_in
from tests.support.seed import seed_contact
from tests.support.servers import Upstream
from tests.support.shadow import candidate_set
from tests.support.waiting import settled

OFFER = (
    b"From: Shop <news@shop.example>\r\n"
    b"To: list@shop.example\r\n"
    b"Subject: Akce: shoes -20 %\r\n"
    b"X-Gatekeeper-Purpose: marketing\r\n"
    b"X-Gatekeeper-Topic: newsletter\r\n"
    b"X-Gatekeeper-Category: shoes\r\n"
    b"\r\n"
    b"Shop s.r.o., Praha. Unsubscribe: %unsubscribe_url%\r\n"
)
"""Marketing that meets every Czech content rule, for customers who bought shoes."""

OLD_CZ = ["old1@shop.cz", "old2@shop.cz"]
"""Bought 18 months ago: soft opt-in under the live 24 months, not under the candidate's 12."""
OTHERS = ["recent@shop.cz", "fan@shop.cz", "old@shop.de", "nobody@shop.cz"]
"""Bought 3 months ago; consented; a German customer of 18 months; a stranger."""
IDENTITY = {"name": "Shop s.r.o.", "postal_address": "Praha 1", "jurisdiction": "cz"}


def customer(address: str, country: str, months: int) -> ContactRow:
    bought = datetime.now(UTC) - timedelta(days=30 * months)
    return ContactRow(
        line=2,
        address=address,
        original=address,
        country=country,
        customer_kind="purchase",
        last_purchase_at=bought.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        purchase_categories=("shoes",),
    )


async def run_traffic(gateway_factory, directory: Path, shadow: Path | None):
    """The same contacts and messages through a gateway and store of its own in `directory`:
    (gateway, refused recipients, what the upstream got)."""
    directory.mkdir()
    upstream = Upstream().start()
    try:
        policy = {"shadow_directory": str(shadow)} if shadow else {}
        store = {"url": f"sqlite:///{directory / 'gatekeeper.db'}"}
        gw = await gateway_factory(
            upstream.url, identity=IDENTITY, policy=policy, store=store, http={"admin_token": TOKEN}
        )
        await gw.store.import_contacts(
            [customer(a, "CZ", 18) for a in OLD_CZ]
            + [customer("recent@shop.cz", "CZ", 3), customer("old@shop.de", "DE", 18)]
        )
        await seed_contact(gw.store, "fan@shop.cz", "newsletter", country="CZ")
        refused = []
        for _ in range(2):
            refused.append(
                await asyncio.to_thread(
                    send, gw.smtp_port, OLD_CZ + OTHERS, OFFER, "news@shop.example"
                )
            )
        await settled(gw)
        await gw.writer.flush()
        captured = sorted(
            (sorted(m.recipients), m.sender, m.data.split(b"\r\n\r\n", 1)[1])
            for m in upstream.handler.messages
        )
        return gw, refused, captured
    finally:
        upstream.stop()


def counts(output: str) -> tuple[int, int]:
    match = re.search(r": (\d+) of (\d+) decisions differ", output)
    assert match, output
    return int(match[1]), int(match[2])


async def test_stricter_cz_soft_opt_in_in_the_shadow(gateway_factory, tmp_path):
    candidate = candidate_set(tmp_path / "candidate")
    _, plain_refused, plain_captured = await run_traffic(gateway_factory, tmp_path / "a", None)
    gw, refused, captured = await run_traffic(gateway_factory, tmp_path / "b", candidate)
    assert refused == plain_refused and captured == plain_captured  # live mail as before
    assert sum(len(m[0]) for m in captured) == 2 * 5  # all but nobody@shop.cz

    rows = [d for _, d in await gw.store.decisions(DecisionQuery(phase="shadow"))]
    assert sorted(d.recipient for d in rows) == sorted(OLD_CZ * 2)
    for row in rows:
        assert (row.action, row.reason, row.jurisdiction) == ("deny", "soft-opt-in-expired", "cz")
        assert row.rule == "cz.marketing.soft-opt-in" and "candidate: 12 months" in row.cite
        assert row.detail.startswith("live allow soft-opt-in rule cz.marketing.soft-opt-in")

    config = write_config(
        tmp_path / "b",
        gateway_sections(
            tmp_path / "b",
            "smtp://127.0.0.1:9",
            identity=IDENTITY,
            policy={"shadow_directory": str(candidate)},
        ),
    )
    diff = await asyncio.to_thread(run_cli, "policy", "diff", "--config", str(config))
    assert diff.returncode == 0, diff.stderr
    live_rows = len(
        [d for _, d in await gw.store.decisions(DecisionQuery()) if d.phase in ("rcpt", "data")]
    )
    assert counts(diff.stdout) == (4, live_rows)
    assert "     4  cz\n" in diff.stdout and "     4  cz.marketing.soft-opt-in\n" in diff.stdout
    assert "allow soft-opt-in rule cz.marketing.soft-opt-in -> deny soft-opt-in-expired" in (
        diff.stdout
    )

    replay = await asyncio.to_thread(
        run_cli,
        "policy",
        "replay",
        "--directory",
        str(candidate),
        "--since",
        "30d",
        "--config",
        str(config),
    )
    assert replay.returncode == 0, replay.stderr
    assert counts(replay.stdout) == counts(diff.stdout)
    assert "note:" not in replay.stdout  # the live set reproduces every recorded verdict
    assert replay.stdout.count("] allow soft-opt-in rule cz.marketing.soft-opt-in -> deny") == 4

    base = f"http://127.0.0.1:{gw.http_port}"
    async with client() as http:
        await sign_in(http, base)
        async with http.get(f"{base}/ops/shadow") as reply:
            assert reply.status == 200
            page = await reply.text()
    assert f"<p>4 of {live_rows} decisions since " in page
    assert "<tr><td>cz.marketing.soft-opt-in</td><td>4</td></tr>" in page
    first = min(seq for seq, d in await gw.store.decisions(DecisionQuery(phase="shadow")))
    assert f'<a href="/ops/decisions/{first}">#{first}</a>' in page


async def test_a_typo_in_the_shadow_set_stops_start_up_with_one_line(
    upstream, gateway_factory, tmp_path
):
    candidate = candidate_set(tmp_path / "candidate")
    cz = candidate / "cz.toml"
    cz.write_text(cz.read_text().replace("window_months = { purchase = 12 }", "window = 12"))
    with pytest.raises(ConfigError) as stopped:
        await gateway_factory(upstream.url, policy={"shadow_directory": str(candidate)})
    message = str(stopped.value)
    assert "\n" not in message and "cz.toml" in message and "window" in message
