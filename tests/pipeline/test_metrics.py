"""/metrics moves with real SMTP traffic and is read from the spool's indexes; /readyz
follows the upstream and the store's ability to commit; the free-space floor answers 452."""

from __future__ import annotations

import asyncio
import smtplib
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.store import open_store
from gateway.store.sql import SPOOL_COUNTS, SPOOL_OLDEST
from gateway.web.context import CONTEXT
from tests.support.waiting import settled, wait_until

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
    await gw.writer.flush()  # the deliveries' spool updates ride up to RIDE after the replies
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
    status, body = await get_json(gw.http_port, "/readyz")
    assert (status, body["ready"], body["down"]) == (200, True, {})
    upstream.stop()
    status, body = await get_json(gw.http_port, "/readyz")
    assert status == 503 and body["ready"] is False
    assert set(body["down"]) == {"upstream"}
    assert str(upstream.port) in body["down"]["upstream"]


# -- issue 11: aggregates, cache, token; readiness while the store cannot commit ----------


class WatchedStore:
    """The gateway's real store, with the names of the methods the web side called."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.called: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._store, name)

        def called(*args: Any, **kwargs: Any) -> Any:
            self.called.append(name)
            return method(*args, **kwargs)

        return called


def backlog(path: str, count: int, start: int = 0) -> None:
    """`count` spooled messages of one recipient each, due far in the future (nothing is
    delivered while the test looks), written straight into the gateway's database. Called
    off the event loop: a blocking write there would wait on a transaction the loop holds."""
    with sqlite3.connect(path) as raw:
        raw.executemany(
            "INSERT INTO spool_message (id, received_at, sender, data) VALUES (?, ?, ?, ?)",
            [
                (f"q{n:06d}", 1000.0 + n, "app@example.com", b"x" * 100)
                for n in range(start, start + count)
            ],
        )
        raw.executemany(
            "INSERT INTO spool_recipient (message_id, address, next_attempt) VALUES (?, ?, ?)",
            [(f"q{n:06d}", f"r{n}@example.org", 1e12) for n in range(start, start + count)],
        )


def watch(gw: Any) -> WatchedStore:
    ctx = gw.http_runner.app[CONTEXT]
    ctx.store = WatchedStore(ctx.store)
    return ctx.store


async def test_metrics_with_a_30k_backlog_come_from_aggregates(
    gateway_factory: Any, upstream: Any, tmp_path: Path
) -> None:
    gw = await gateway_factory(upstream.url, http={"metrics_cache_seconds": 0})
    await asyncio.to_thread(backlog, str(tmp_path / "gatekeeper.db"), 30_000)
    watched = watch(gw)
    samples = await scrape(gw.http_port)
    assert samples[("gatekeeper_queue_depth", ())] == 30_000
    assert samples[("gatekeeper_queue_due", ())] == 0
    assert samples[("gatekeeper_queue_oldest_age_seconds", ())] > 0
    assert "spool_counts" in watched.called and "spool_list" not in watched.called


def test_spool_counts_read_an_index_only(tmp_path: Path) -> None:
    """The count never touches a spool row (SQLite's plan says so), however long the queue."""

    async def opened() -> None:
        store = open_store(f"sqlite:///{tmp_path / 'plan.db'}")
        await store.open()
        await store.close()

    asyncio.run(opened())
    with sqlite3.connect(tmp_path / "plan.db") as raw:
        plan = " ".join(
            str(row[-1]) for row in raw.execute(f"EXPLAIN QUERY PLAN {SPOOL_COUNTS}", (1.0,))
        )
        oldest = " ".join(str(row[-1]) for row in raw.execute(f"EXPLAIN QUERY PLAN {SPOOL_OLDEST}"))
    assert "COVERING INDEX" in plan
    assert "INDEX spool_message_received" in oldest


async def test_metrics_are_cached_for_the_configured_seconds(
    gateway_factory: Any, upstream: Any, tmp_path: Path
) -> None:
    gw = await gateway_factory(upstream.url, http={"metrics_cache_seconds": 3600})
    await asyncio.to_thread(backlog, str(tmp_path / "gatekeeper.db"), 3)
    first = await scrape(gw.http_port)
    await asyncio.to_thread(backlog, str(tmp_path / "gatekeeper.db"), 2, start=3)
    watched = watch(gw)
    again = await asyncio.gather(*(scrape(gw.http_port) for _ in range(5)))
    assert first[("gatekeeper_queue_depth", ())] == 3
    assert all(s[("gatekeeper_queue_depth", ())] == 3 for s in again)  # the cached body
    assert "spool_counts" not in watched.called


async def test_metrics_token_is_required_when_set(gateway_factory: Any, upstream: Any) -> None:
    gw = await gateway_factory(upstream.url, http={"metrics_token": "scrape-me-0123456789"})
    url = f"http://127.0.0.1:{gw.http_port}/metrics"
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
            async with session.get(url, headers=headers) as reply:
                assert reply.status == 401
                assert reply.headers["WWW-Authenticate"].startswith("Bearer")
        good = {"Authorization": "Bearer scrape-me-0123456789"}
        async with session.get(url, headers=good) as reply:
            assert reply.status == 200
            assert "gatekeeper_queue_depth" in await reply.text()


REFUSE_WRITES = [
    f"CREATE TRIGGER refuse_{table}_{op} BEFORE {op} ON {table}"
    " BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    for table in ("spool_message", "decision", "meta")
    for op in ("INSERT", "UPDATE")
]


async def test_readyz_is_false_while_commits_fail(
    gateway_factory: Any, upstream: Any, tmp_path: Path
) -> None:
    gw = await gateway_factory(upstream.url)
    assert (await get_json(gw.http_port, "/readyz"))[0] == 200
    with sqlite3.connect(tmp_path / "gatekeeper.db") as raw:  # a real fault: writes refused
        for sql in REFUSE_WRITES:
            raw.execute(sql)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        await asyncio.to_thread(send, gw.smtp_port)
    assert refused.value.smtp_code == 451
    assert gw.writer.failure  # the commit of that message failed
    status, body = await get_json(gw.http_port, "/readyz")
    assert status == 503 and body["ready"] is False
    assert "full" in body["down"]["store"]
    with sqlite3.connect(tmp_path / "gatekeeper.db") as raw:
        for (name,) in raw.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        ).fetchall():
            raw.execute(f"DROP TRIGGER {name}")

    async def ready() -> bool:
        return (await get_json(gw.http_port, "/readyz"))[0] == 200

    await wait_until(ready)  # the writer's probe saw the store commit again


async def test_free_space_floor_answers_452(gateway_factory: Any, upstream: Any) -> None:
    gw = await gateway_factory(upstream.url, store={"min_free_bytes": 2**62})
    with pytest.raises(smtplib.SMTPDataError) as refused:
        await asyncio.to_thread(send, gw.smtp_port)
    assert refused.value.smtp_code == 452
    assert refused.value.smtp_error.startswith(b"4.3.1 Insufficient system storage")
    assert await settled(gw) == []
