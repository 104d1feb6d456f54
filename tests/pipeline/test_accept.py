"""gateway.pipeline.accept at DATA, through real SMTP sessions: what is decided again, what is
recorded, what the client is told and what is spooled (docs/design.md §2)."""

from __future__ import annotations

import asyncio
import json
import smtplib
import subprocess
import sys

import pytest

from gateway.store.records import ConsentEvent, DecisionQuery, SuppressionEntry
from tests.conftest import free_port
from tests.support.seed import GRANTED

MARKETING = (
    b"From: Shop <news@shop.example>\r\n"
    b"Subject: November offers\r\n"
    b"Message-ID: <offers-1@shop.example>\r\n"
    b"X-Gatekeeper-Purpose: marketing\r\n"
    b"X-Gatekeeper-Topic: newsletter\r\n"
    b"\r\n"
    b"Our offers. Unsubscribe: %unsubscribe_url%\r\n"
)
# consented, no consent, unsubscribed twice: in this order in every envelope below
RECIPIENTS = ["a@example.com", "b@example.com", "c@example.com", "d@example.com"]
NEWSLETTER = [{"sender": "news@shop.example", "purpose": "marketing", "topic": "newsletter"}]


async def seed(gw) -> None:
    await gw.store.record_consent(
        [ConsentEvent("a@example.com", "newsletter", "grant", GRANTED, "form", "{}")]
    )
    await gw.store.suppress(
        [
            SuppressionEntry(address, "all", "unsubscribed", "test", GRANTED)
            for address in ("c@example.com", "d@example.com")
        ]
    )


def send(port: int, sender: str, recipients: list[str], data: bytes) -> tuple[int, str]:
    """The reply to DATA, every RCPT having been accepted."""
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.ehlo()
        client.mail(sender)
        for recipient in recipients:
            assert client.rcpt(recipient)[0] == 250
        code, text = client.data(data)
        return code, text.decode()


async def data_rows(gw) -> list:
    await gw.writer.flush()
    return [d for _, d in await gw.store.decisions(DecisionQuery(phase="data"))]


async def test_partly_refused_counts_and_points_at_the_first_refusal(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)
    await seed(gw)
    code, text = await asyncio.to_thread(
        send, gw.smtp_port, "news@shop.example", RECIPIENTS, MARKETING
    )
    assert code == 250
    queue_id = text.split("queued as ")[1].split(";")[0]
    rows = {d.recipient: d for d in await data_rows(gw)}
    assert text == (
        f"2.0.0 Ok: queued as {queue_id}; 1 of 4 recipients accepted, 3 refused "
        f"(ref {rows['b@example.com'].id}); see: gatekeeper log --message-id {queue_id}"
    )
    assert {r: (d.action, d.basis or d.reason) for r, d in rows.items()} == {
        "a@example.com": ("allow", "consent"),
        "b@example.com": ("deny", "no-consent"),
        "c@example.com": ("deny", "unsubscribed"),
        "d@example.com": ("deny", "unsubscribed"),
    }
    (captured,) = await asyncio.to_thread(upstream.handler.wait_for, 1)
    assert captured.recipients == ["a@example.com"]


async def test_reject_mode_refuses_all_and_summarises_reasons_by_count(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, policy={"partial": "reject"})
    await seed(gw)
    code, text = await asyncio.to_thread(
        send, gw.smtp_port, "news@shop.example", RECIPIENTS, MARKETING
    )
    rows = {d.recipient: d for d in await data_rows(gw)}
    first = rows["b@example.com"]
    assert code == 550
    assert text == (
        "5.7.1 3 of 4 recipients refused: unsubscribed x2, no-consent x1: marketing "
        f"(X-Gatekeeper-Purpose); rule {first.rule}; record consent: gatekeeper contacts import "
        f"(ref {first.id})"
    )
    assert len(rows) == 4  # every recipient decided, the allowed one too
    assert await gw.store.spool_list() == []  # the 550 came after nothing was spooled


@pytest.mark.parametrize("report", [True, False])
async def test_refusal_report_is_spooled_only_when_asked_for(gateway_factory, report):
    """With `policy.refusal_report` the sender gets an RFC 3464 report of the refused
    recipients. The upstream is down, so what was spooled stays to be read."""
    gw = await gateway_factory(f"smtp://127.0.0.1:{free_port()}", policy={"refusal_report": report})
    await seed(gw)
    code, _ = await asyncio.to_thread(
        send, gw.smtp_port, "news@shop.example", RECIPIENTS[:2], MARKETING
    )
    assert code == 250
    await gw.writer.flush()
    queued = sorted((e.sender, e.recipient) for e in await gw.store.spool_list())
    expected = [("news@shop.example", "a@example.com")]
    assert queued == ([("", "news@shop.example")] if report else []) + expected


async def test_rcpt_decision_stands_when_data_keeps_the_stream(upstream, gateway_factory):
    """The stream's RCPT verdict, equal at DATA, is that decision standing: no new row."""
    gw = await gateway_factory(upstream.url, streams=NEWSLETTER)
    await seed(gw)
    code, _ = await asyncio.to_thread(
        send, gw.smtp_port, "news@shop.example", ["a@example.com"], MARKETING
    )
    assert code == 250
    await gw.writer.flush()
    rows = [d for _, d in await gw.store.decisions(DecisionQuery()) if d.phase != "delivery"]
    assert [(d.phase, d.recipient, d.basis) for d in rows] == [("rcpt", "a@example.com", "consent")]


@pytest.mark.parametrize(
    ("streams", "change", "verdict", "detail"),
    [
        # the topic the headers name is not the stream's: decided anew
        (NEWSLETTER, (b"Topic: newsletter", b"Topic: offers"), ("deny", "no-consent"), ""),
        # a stricter purpose than the stream's: decided anew (on consent, not as transactional)
        (
            [{"sender": "news@shop.example", "purpose": "transactional"}],
            (b"", b""),
            ("allow", "consent"),
            "",
        ),
        # the same verdict, but DATA noted something: a row of its own to carry the note
        (
            NEWSLETTER,
            (b"Purpose: marketing", b"Purpose: transactional"),
            ("allow", "consent"),
            "looser than the stream's; ignored",
        ),
    ],
    ids=["topic", "stricter-purpose", "note"],
)
async def test_data_decides_anew_where_it_changed_the_rcpt_facts(
    upstream, gateway_factory, streams, change, verdict, detail
):
    gw = await gateway_factory(upstream.url, streams=streams)
    await seed(gw)
    message = MARKETING.replace(*change)
    await asyncio.to_thread(send, gw.smtp_port, "news@shop.example", ["a@example.com"], message)
    (row,) = await data_rows(gw)
    assert (row.action, row.basis or row.reason) == verdict
    assert detail in row.detail


def test_the_pipeline_loads_no_adapter() -> None:
    """The transaction is the pipeline's: accept stands below the SMTP adapter, not on it."""
    script = "import sys, json, gateway.pipeline.accept; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    adapters = ("gateway.smtp", "gateway.web", "gateway.cli", "gateway.app", "aiosmtpd")
    assert [m for m in json.loads(result.stdout) if m.startswith(adapters)] == []
