"""Two gateway processes on one PostgreSQL database: what one of them learns (an unsubscribe,
a hard bounce, a consent) holds for the very next message through the other."""

from __future__ import annotations

import asyncio
import smtplib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from gateway.consent import tokens
from gateway.store import open_store
from gateway.store.records import ConsentEvent, DecisionQuery
from tests.support.fleet import instance_config, rcpt_reply
from tests.support.seed import GRANTED
from tests.support.servers import Upstream
from tests.support.waiting import wait_until

SECRET = "fleet-secret"
TOKEN = "fleet-admin-token-0123456789"
NEWS = "news@shop.example"
STREAMS = [
    {"sender": "app@example.com", "purpose": "transactional"},
    {"sender": NEWS, "purpose": "marketing", "topic": "newsletter"},
]


def pair(tmp_path: Path, pg_url: str, upstream: Upstream, process_factory: Any) -> tuple:
    common: dict[str, Any] = {
        "unsubscribe": {"secret": [SECRET]},
        "http": {"admin_token": TOKEN},
        "streams": STREAMS,
    }
    return tuple(
        process_factory(instance_config(tmp_path, name, pg_url, upstream.url, **common)).start()
        for name in ("a", "b")
    )


async def test_unsubscribe_through_a_refuses_through_b(
    tmp_path: Path, pg_url: str, upstream: Upstream, process_factory: Any
) -> None:
    a, b = pair(tmp_path, pg_url, upstream, process_factory)
    store = open_store(pg_url)
    await store.open()
    try:
        event = ConsentEvent("alice@example.org", "newsletter", "grant", GRANTED, "form", "{}")
        await store.record_consent([event])
    finally:
        await store.close()
    before = await asyncio.to_thread(rcpt_reply, b.smtp_port, NEWS, "alice@example.org")
    assert before.startswith(b"250"), before

    now = datetime.now(UTC)
    token = tokens.issue([SECRET.encode()], "alice@example.org", "newsletter", now)
    async with aiohttp.ClientSession() as http:
        url = f"http://127.0.0.1:{a.http_port}/u/{token}"
        async with http.post(url, data={"List-Unsubscribe": "One-Click"}) as reply:
            assert reply.status == 200, await reply.text()

    after = await asyncio.to_thread(rcpt_reply, b.smtp_port, NEWS, "alice@example.org")
    assert after.startswith(b"550") and b"unsubscribed" in after, after


async def test_hard_bounce_recorded_by_b_refuses_through_a(
    tmp_path: Path, pg_url: str, upstream: Upstream, process_factory: Any
) -> None:
    upstream.handler.refuse["bob@example.org"] = "550 5.1.1 no such user"
    a, b = pair(tmp_path, pg_url, upstream, process_factory)
    with smtplib.SMTP("127.0.0.1", b.smtp_port, timeout=30) as client:
        client.sendmail("app@example.com", ["bob@example.org"], b"Subject: receipt\r\n\r\nhi\r\n")

    async def suppressed() -> bool:
        conn = await asyncpg.connect(pg_url)
        try:
            reason = await conn.fetchval(
                "SELECT reason FROM suppression WHERE address = 'bob@example.org'"
            )
        finally:
            await conn.close()
        return reason == "hard-bounce"

    await wait_until(suppressed)
    reply = await asyncio.to_thread(rcpt_reply, a.smtp_port, "app@example.com", "bob@example.org")
    assert reply.startswith(b"550") and b"hard-bounce" in reply, reply


async def test_consent_imported_through_a_api_allows_through_b(
    tmp_path: Path, pg_url: str, upstream: Upstream, process_factory: Any
) -> None:
    a, b = pair(tmp_path, pg_url, upstream, process_factory)
    before = await asyncio.to_thread(rcpt_reply, b.smtp_port, NEWS, "carol@example.org")
    assert before.startswith(b"550") and b"no-consent" in before, before

    api = f"http://127.0.0.1:{a.http_port}/api/v1/contacts/carol@example.org/consents"
    proof = {"ip": "192.0.2.7", "form": "signup/3", "text": "Send me news"}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(api, json={"topic": "newsletter", "proof": proof}, headers=headers) as reply,
    ):
        assert reply.status == 201, await reply.text()

    after = await asyncio.to_thread(rcpt_reply, b.smtp_port, NEWS, "carol@example.org")
    assert after.startswith(b"250"), after
    store = open_store(pg_url)
    await store.open()
    try:
        # the rows follow the replies: nobody waits for them (pipeline/writer.py RIDE)
        query = DecisionQuery(recipient="carol@example.org")
        await wait_until(lambda: _count(store.decisions(query), 2))
        rows = await store.decisions(query)
    finally:
        await store.close()
    assert {d.instance for _, d in rows} == {"gw.test/b"}, "B decided, under its own name"


async def _count(rows: Any, at_least: int) -> bool:
    return len(await rows) >= at_least
