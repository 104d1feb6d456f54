"""The real gateway on PostgreSQL: a message sent over SMTP is delivered upstream and its
delivery decision lands in the database."""

from __future__ import annotations

import asyncio
import smtplib
from typing import Any

import asyncpg
import pytest

from gateway.store.records import DecisionQuery
from tests.support.servers import Upstream
from tests.support.smtp import converse
from tests.support.waiting import wait_until

MESSAGE = (
    b"From: App <app@example.com>\r\n"
    b"To: someone@example.org\r\n"
    b"Subject: Receipt 7\r\n"
    b"Message-ID: <receipt-7@example.com>\r\n"
    b"\r\n"
    b"Thank you for your order.\r\n"
)


def send(port: int) -> dict[str, Any]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        return client.sendmail("app@example.com", ["someone@example.org"], MESSAGE)


async def test_message_is_delivered_and_decision_stored(
    upstream: Upstream, gateway_factory: Any, pg_url: str
) -> None:
    gw = await gateway_factory(upstream.url, store={"url": pg_url})
    assert await asyncio.to_thread(send, gw.smtp_port) == {}
    [captured] = await asyncio.to_thread(upstream.handler.wait_for, 1)
    assert captured.recipients == ["someone@example.org"]
    assert captured.data.endswith(MESSAGE)

    async def delivered() -> bool:
        await gw.writer.flush()
        rows = await gw.store.decisions(DecisionQuery(phase="delivery"))
        return [(d.recipient, d.reason) for _, d in rows] == [("someone@example.org", "delivered")]

    await wait_until(delivered)
    conn = await asyncpg.connect(pg_url)
    try:
        stored = await conn.fetch(
            "SELECT recipient, action, reason FROM decision WHERE phase = 'delivery'"
        )
        spooled = await conn.fetchval("SELECT count(*) FROM spool_recipient")
    finally:
        await conn.close()
    assert [tuple(r) for r in stored] == [("someone@example.org", "allow", "delivered")]
    assert spooled == 0, "a delivered recipient leaves the spool"


@pytest.mark.parametrize(
    ("steps", "logged"),
    [
        ([b"MAIL FROM:<app@example.com>\r\n", b"RCPT TO:<b\x00x@example.org>\r\n"], r"b\x00x@"),
        ([b"MAIL FROM:<sh\x00op@example.com>\r\n"], r"sh\x00op@"),
    ],
)
async def test_an_address_holding_nul_leaves_the_writer_working(
    upstream: Upstream, gateway_factory: Any, pg_url: str, steps: list[bytes], logged: str
) -> None:
    """PostgreSQL's text holds no NUL: the refused address's decision row failed every
    commit after it, and every later session got 451 (store/storable.py escapes it)."""
    gw = await gateway_factory(upstream.url, store={"url": pg_url})
    dialogue = [(b"EHLO c.test\r\n", 1), *((step, 1) for step in steps)]
    replies = await asyncio.to_thread(converse, gw.smtp_port, dialogue)
    assert replies[-1].startswith(b"553 "), replies[-1]
    await asyncio.wait_for(gw.writer.flush(), 10)  # a stuck writer fails, not hangs
    assert gw.writer.failure == ""
    assert await asyncio.to_thread(send, gw.smtp_port) == {}
    rows = await gw.store.decisions(DecisionQuery(reason="invalid-address"))
    assert [d for _, d in rows if (d.recipient or d.sender).startswith(logged)], rows
