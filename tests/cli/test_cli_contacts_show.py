"""`contacts show` gives the verdict the live gateway gives for the same facts: a German
contact who consented to the newsletter without double opt-in or proof is refused
newsletter mail for the same reason in both, and topic-less marketing for the same reason
in both (their consent is per topic)."""

from __future__ import annotations

import asyncio
import smtplib

from gateway.store.records import DecisionQuery
from tests.support.cli import run_cli
from tests.support.dates import date_days_ago

CONTACTS = (
    "email,country,consent_topics,consent_at\n"
    f"hans@example.de,DE,newsletter,{date_days_ago(30)}\n"  # live: refused for its terms only
)


def rcpt(port: int, sender: str, recipient: str) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.ehlo()
        client.mail(sender)
        return client.rcpt(recipient)


def shown_verdicts(stdout: str) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(purpose, topic) -> (action, basis or reason, rule)."""
    table = stdout.split("verdicts (", 1)[1].splitlines()[1:]
    return {(p, t): (a, why, rule) for p, t, a, why, _, rule, *_ in map(str.split, table)}


async def test_contacts_show_matches_the_live_decision(tmp_path, upstream, gateway_factory):
    streams = [
        {"sender": "news@shop.example", "purpose": "marketing", "topic": "newsletter"},
        {"sender": "promo@shop.example", "purpose": "marketing"},
    ]
    gw = await gateway_factory(upstream.url, streams=streams)
    config = str(tmp_path / "gatekeeper.toml")  # the one the gateway runs on
    (tmp_path / "c.csv").write_text(CONTACTS)
    imported = await asyncio.to_thread(
        run_cli, "contacts", "import", "c.csv", "--config", config, cwd=tmp_path
    )
    assert imported.returncode == 0, imported.stderr
    for sender in ("news@shop.example", "promo@shop.example"):
        code, _ = await asyncio.to_thread(rcpt, gw.smtp_port, sender, "hans@example.de")
        assert code == 550
    await gw.writer.flush()
    live = {
        d.topic or "-": (d.action, d.reason, d.rule)
        for _, d in await gw.store.decisions(DecisionQuery(recipient="hans@example.de"))
    }
    shown = await asyncio.to_thread(
        run_cli, "contacts", "show", "hans@example.de", "--config", config, cwd=tmp_path
    )
    verdicts = shown_verdicts(shown.stdout)
    assert verdicts["marketing", "newsletter"] == live["newsletter"]
    assert live["newsletter"][1] in ("double-opt-in-required", "consent-unproven")
    assert live["newsletter"][2] == "de.marketing.consent"
    assert verdicts["marketing", "-"] == live["-"]
    assert live["-"][1] == "no-consent"
