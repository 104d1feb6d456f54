"""Bytes that are not UTF-8 in what the gateway stores (gateway/store/storable.py).

They reach Python as lone surrogates, which no store can encode. A RCPT of such bytes left
its `invalid-address` decision row failing every commit after it (the writer keeps rows
nobody waits for for the next try): one command, and every later session got 451 for good.
The same over HTTP: tests/hostile/test_hostile_http_text.py.
"""

from __future__ import annotations

import asyncio

import pytest

from gateway.store.records import DecisionQuery
from tests.hostile.wire import NORMAL, send_message
from tests.support.smtp import converse

EHLO = (b"EHLO client.test\r\n", 1)
MAIL = (b"MAIL FROM:<shop@example.com>\r\n", 1)
BAD_RCPT = [EHLO, MAIL, (b"RCPT TO:<b\xff@example.org>\r\n", 1)]


async def flushed(gw) -> None:
    await asyncio.wait_for(gw.writer.flush(), 10)  # a stuck writer fails, not hangs


async def relays_afterwards(gw) -> None:
    """A plain message after the hostile one is still queued: the writer is not stuck."""
    reply = await send_message(gw.smtp_port, NORMAL, "shop@example.com", "fan@example.org")
    assert reply.startswith(b"250 "), reply
    assert gw.writer.failure == ""


@pytest.mark.parametrize(
    ("steps", "answer"),
    [
        pytest.param(BAD_RCPT, b"5", id="rcpt"),
        pytest.param([EHLO, (b"MAIL FROM:<b\xff@example.com>\r\n", 1)], b"5", id="mail"),
        pytest.param(
            [(b"EHLO b\xff.test\r\n", 1), MAIL, (b"RCPT TO:<fan@example.org>\r\n", 1)],
            b"2",
            id="ehlo",
        ),
    ],
)
async def test_a_command_of_such_bytes_leaves_the_writer_working(
    upstream, gateway_factory, steps, answer
):
    """An address of such bytes is a bad address, refused for good (5xx), never the 451 of a
    fault, which would have the client retry an address that can never pass."""
    gw = await gateway_factory(
        upstream.url, streams=[{"sender": "*@example.com", "purpose": "transactional"}]
    )
    replies = await asyncio.to_thread(converse, gw.smtp_port, steps)
    assert replies[-1][:1] == answer, replies[-1]
    await flushed(gw)
    await relays_afterwards(gw)


async def test_a_refused_address_is_logged_with_its_byte_escaped(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)
    replies = await asyncio.to_thread(converse, gw.smtp_port, BAD_RCPT)
    assert replies[-1].startswith(b"553 "), replies[-1]
    await flushed(gw)
    rows = [d for _, d in await gw.store.decisions(DecisionQuery())]
    assert [(d.reason, d.recipient) for d in rows] == [("invalid-address", r"b\xff@example.org")]


async def test_a_message_id_of_such_bytes_is_queued_and_logged(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)
    message = NORMAL.replace(b"Subject:", b"Message-ID: <a\xff@shop.example>\r\nSubject:", 1)
    reply = await send_message(gw.smtp_port, message, "shop@example.com", "fan@example.org")
    assert reply.startswith(b"250 "), reply
    await flushed(gw)
    ids = {d.message_id for _, d in await gw.store.decisions(DecisionQuery())}
    assert [i for i in ids if i.startswith("a") and i.endswith("@shop.example")], ids
    await relays_afterwards(gw)
