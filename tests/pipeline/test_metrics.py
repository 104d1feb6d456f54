"""/metrics moves with real SMTP traffic; /readyz follows the upstream."""

from __future__ import annotations

import asyncio
import smtplib
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.support.waiting import wait_until

MESSAGE = b"From: app@example.com\r\nTo: a@example.org\r\nSubject: receipt\r\n\r\nThanks.\r\n"


async def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as reply,
    ):
        assert reply.status == 200
        assert reply.content_type == "text/plain"
        text = await reply.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def get_json(port: int, path: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as reply,
    ):
        return reply.status, await reply.json()


def send(port: int) -> None:
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.sendmail("app@example.com", ["a@example.org", "b@example.org"], MESSAGE)


async def test_counters_move_with_traffic(gateway_factory: Any, upstream: Any) -> None:
    gw = await gateway_factory(upstream.url)
    before = await scrape(gw.http_port)
    assert before[("gatekeeper_smtp_sessions_total", ())] == 0
    await asyncio.to_thread(send, gw.smtp_port)
    await asyncio.to_thread(upstream.handler.wait_for, 2)
    await wait_until(lambda: gw.delivery.backlog == 0)
    after = await scrape(gw.http_port)
    assert after[("gatekeeper_smtp_sessions_total", ())] == 1
    # a transactional stream: decided at RCPT, and those decisions stand at DATA
    allowed = (
        "gatekeeper_decisions_total",
        (
            ("action", "allow"),
            ("jurisdiction", "eu"),
            ("phase", "rcpt"),
            ("purpose", "transactional"),
            ("reason", ""),
        ),
    )
    assert after[allowed] == 2
    assert after[("gatekeeper_delivery_attempts_total", (("outcome", "delivered"),))] == 2
    assert after[("gatekeeper_upstream_send_seconds_count", ())] >= 1
    assert after[("gatekeeper_queue_depth", ())] == 0
    assert after[("gatekeeper_queue_oldest_age_seconds", ())] == 0
    assert after[("gatekeeper_smtp_sessions_open", ())] == 0


async def test_readyz_follows_the_upstream(gateway_factory: Any, upstream: Any) -> None:
    gw = await gateway_factory(upstream.url)
    assert await get_json(gw.http_port, "/readyz") == (200, {"ready": True, "down": {}})
    upstream.stop()
    status, body = await get_json(gw.http_port, "/readyz")
    assert status == 503 and body["ready"] is False
    assert set(body["down"]) == {"upstream"}
    assert str(upstream.port) in body["down"]["upstream"]
