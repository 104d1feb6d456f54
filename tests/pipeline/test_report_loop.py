"""Closing the loop end to end (docs/design.md §8): mail relayed with VERP and the reference
header, the capturing upstream's report sent back to the listener from `<>`, and the next
message to that recipient decided by what the report said."""

from __future__ import annotations

import asyncio
import base64
import email
import json
import smtplib

import pytest

from gateway.reports.verp import read_verp
from gateway.store.records import DecisionQuery
from tests.support.messages import MARKETING, RECEIPT, send
from tests.support.reports import arf, dsn
from tests.support.seed import seed
from tests.support.waiting import settled

REPORTS = "postmaster@bounces.gw.test"
PEOPLE = ["ann@example.com", "ben@example.com", "carl@example.com", "dan@example.com"]


@pytest.fixture
async def gw(upstream, gateway_factory):
    gateway = await gateway_factory(
        upstream.url,
        bounces={"address": REPORTS, "domain": "bounces.gw.test"},
        streams=[
            {"sender": "app@example.com", "purpose": "transactional"},
            {"sender": "news@shop.example", "purpose": "marketing", "topic": "newsletter"},
        ],
    )
    await seed(gateway.store, PEOPLE)
    return gateway


def report_back(port: int, to: str, data: bytes) -> tuple[int, bytes]:
    """A remote MTA's report: from the null sender, to the report mailbox or a VERP address."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        client.mail("<>")
        code, text = client.rcpt(to)
        assert code == 250, text
        return client.data(data)


def refusal(port: int, sender: str, recipient: str, data: bytes) -> str:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send(port, [recipient], data, sender=sender)
    return refused.value.recipients[recipient][1].decode()


async def relayed(gw, upstream, sender: str, recipient: str, data: bytes):
    await asyncio.to_thread(send, gw.smtp_port, [recipient], data, sender)
    await settled(gw)
    return next(m for m in upstream.handler.messages if recipient in m.recipients)


async def report_rows(gw, recipient: str):
    await gw.writer.flush()
    rows = await gw.store.decisions(DecisionQuery(recipient=recipient, phase="report"))
    return [d for _, d in rows]


async def test_dsn_to_the_verp_address_suppresses_hard_bounce(gw, upstream):
    message = await relayed(gw, upstream, "app@example.com", "ann@example.com", RECEIPT)
    claims, _ = read_verp(await _keys(gw), message.sender)
    assert message.sender.endswith("@bounces.gw.test")
    assert claims.queue_id  # the envelope sender names the queued message
    code, text = await asyncio.to_thread(
        report_back,
        gw.smtp_port,
        message.sender,
        dsn(message.data, "ann@example.com", "5.1.1", "550 5.1.1 <ann@example.com>: user unknown"),
    )
    assert (code, text) == (250, b"2.0.0 Report received")
    reply = await asyncio.to_thread(
        refusal, gw.smtp_port, "app@example.com", "ann@example.com", RECEIPT
    )
    assert "hard-bounce" in reply
    (row,) = await report_rows(gw, "ann@example.com")
    evidence = json.loads(row.detail)
    assert (row.reason, row.action, row.queue_id) == ("hard-bounce", "deny", claims.queue_id)
    assert evidence["status"] == "5.1.1" and evidence["reporting_mta"] == "mx.remote.example"
    assert "user unknown" in evidence["diagnostic"]


async def test_complaint_suppresses_marketing_not_receipts(gw, upstream):
    message = await relayed(gw, upstream, "news@shop.example", "ben@example.com", MARKETING)
    code, _ = await asyncio.to_thread(
        report_back, gw.smtp_port, REPORTS, arf(message.data, "ben@example.com")
    )
    assert code == 250
    reply = await asyncio.to_thread(
        refusal, gw.smtp_port, "news@shop.example", "ben@example.com", MARKETING
    )
    assert "complaint" in reply
    assert await asyncio.to_thread(send, gw.smtp_port, ["ben@example.com"], RECEIPT) == {}
    (row,) = await report_rows(gw, "ben@example.com")
    assert (row.reason, row.sender, row.purpose) == ("complaint", "news@shop.example", "marketing")


async def test_redacted_complaint_matched_by_the_reference_header(gw, upstream):
    message = await relayed(gw, upstream, "news@shop.example", "carl@example.com", MARKETING)
    ref = email.message_from_bytes(message.data)["X-Gatekeeper-Ref"]
    # the address is in it neither in clear nor encoded (the text "carl" alone turns up in a
    # random base32 ref about once in 27,000 runs)
    raw = base64.b32decode(ref.upper() + "=" * (-len(ref) % 8))
    assert ref and "carl@example.com" not in ref and b"carl" not in raw
    await asyncio.to_thread(report_back, gw.smtp_port, REPORTS, arf(message.data, None))
    reply = await asyncio.to_thread(
        refusal, gw.smtp_port, "news@shop.example", "carl@example.com", MARKETING
    )
    assert "complaint" in reply
    (row,) = await report_rows(gw, "carl@example.com")
    assert json.loads(row.detail)["matched_by"] == "X-Gatekeeper-Ref"


async def test_sender_side_failure_suppresses_nobody(gw, upstream):
    message = await relayed(gw, upstream, "app@example.com", "dan@example.com", RECEIPT)
    diagnostic = (
        "550 5.7.26 Unauthenticated email from example.com is not accepted due to domain's "
        "DMARC policy"
    )
    await asyncio.to_thread(
        report_back,
        gw.smtp_port,
        message.sender,
        dsn(message.data, "dan@example.com", "5.7.26", diagnostic),
    )
    assert await asyncio.to_thread(send, gw.smtp_port, ["dan@example.com"], RECEIPT) == {}
    (row,) = await report_rows(gw, "dan@example.com")
    assert (row.reason, row.action) == ("sender-side", "note")
    assert await gw.store.suppressions("dan@example.com") == []


async def test_soft_bounces_count_to_the_limit(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, bounces={"address": REPORTS, "soft_limit": 2})
    message = await relayed(gw, upstream, "app@example.com", "eve@example.com", RECEIPT)
    full = dsn(message.data, "eve@example.com", "4.2.2", "452 4.2.2 mailbox full")
    await asyncio.to_thread(report_back, gw.smtp_port, REPORTS, full)
    assert await gw.store.suppressions("eve@example.com") == []
    await asyncio.to_thread(report_back, gw.smtp_port, REPORTS, full)
    await gw.writer.flush()
    (entry,) = await gw.store.suppressions("eve@example.com")
    assert (entry.reason, entry.source) == ("hard-bounce", "report")


async def test_nothing_is_relayed_from_the_report_mailbox(gw, upstream):
    await asyncio.to_thread(
        report_back, gw.smtp_port, "anything@bounces.gw.test", b"Subject: hello\r\n\r\nhi\r\n"
    )
    await settled(gw)
    assert upstream.handler.messages == []
    (row,) = [d for _, d in await gw.store.decisions(DecisionQuery(phase="report"))]
    assert row.reason == "unmatched"


async def _keys(gw) -> list[bytes]:
    return [(await gw.store.meta("report_key", "")).encode()]
