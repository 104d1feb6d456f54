"""Bytes that are not UTF-8 in what the gateway stores (gateway/store/storable.py).

They reach Python as lone surrogates, which no store can encode. A RCPT of such bytes left
its `invalid-address` decision row failing every commit after it (the writer keeps rows
nobody waits for for the next try): one command, and every later session got 451 for good.
JSON's `\\ud800` escapes give the same over HTTP; they failed the request with a 500
(gateway/web/jsontext.py).
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from gateway.store.records import DecisionQuery
from gateway.web import jsontext
from gateway.web.api_request import ApiError
from gateway.web.ops_contacts import queue_cursor
from gateway.web.ops_events import read_cursor
from tests.hostile.wire import NORMAL, send_message
from tests.support.hooks import basic, payload, post
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


TOKEN = "test-admin-token-0123456789"
LONE = "x\udcff"
"""A low surrogate with no high one before it: valid JSON grammar, not text."""


async def call(port: int, method: str, path: str, body: bytes) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    url = f"http://127.0.0.1:{port}/api/v1{path}"
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, data=body, headers=headers) as reply,
    ):
        return reply.status, await reply.json()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/contacts/ann@example.com/consents", {"topic": "news", "proof": {"t": LONE}}),
        ("POST", "/suppressions", {"email": "bob@example.org", "source": LONE}),
        ("PUT", "/contacts/ann@example.com", {"country": "IE", LONE: "key"}),
    ],
)
async def test_api_json_holding_a_lone_surrogate_is_a_400(
    upstream, gateway_factory, method, path, body
):
    gw = await gateway_factory(upstream.url, http={"admin_token": TOKEN})
    status, reply = await call(gw.http_port, method, path, json.dumps(body).encode())
    assert status == 400 and "not valid JSON" in reply["error"], reply
    assert await gw.store.suppressions() == []


async def test_api_json_of_a_surrogate_pair_is_text(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, http={"admin_token": TOKEN})
    body = json.dumps({"topic": "news", "proof": {"text": "\U0001f600"}}).encode()
    assert b"\\ud83d\\ude00" in body  # the pair as JSON escapes it
    status, _ = await call(gw.http_port, "POST", "/contacts/ann@example.com/consents", body)
    assert status == 201
    status, proof = await call(gw.http_port, "GET", "/contacts/ann@example.com/proof", b"")
    assert "\U0001f600" in proof["history"][0]["proof"]


async def test_a_webhook_holding_a_lone_surrogate_is_a_400(upstream, gateway_factory):
    user, password = "postmark", "correct horse battery staple"
    gw = await gateway_factory(
        upstream.url, hooks={"postmark_username": user, "postmark_password": password}
    )
    bounce = {**payload("postmark_bounce.json"), "Description": LONE}
    status, _ = await post(
        gw.http_port, "postmark", json.dumps(bounce).encode(), basic(user, password)
    )
    assert status == 400


def test_an_ops_page_cursor_holding_a_lone_surrogate_is_a_400():
    for read, keys in ((queue_cursor, [1.0, "q1", LONE]), (read_cursor, ["2026-12-03", LONE])):
        with pytest.raises(ApiError) as refused:
            read(jsontext.cursor(keys))
        assert refused.value.status == 400
