"""Delivery across instances: a dead instance's messages are taken over once its lease runs
out, a restarted one steals no living lease, and two instances delivering one queue together
deliver every recipient exactly once."""

from __future__ import annotations

import asyncio
import smtplib
import time
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
from aiosmtpd.smtp import SMTP, Envelope, Session

from gateway.store import open_store
from gateway.store.records import SpoolMessage, SpoolRecipient, WriteBatch
from tests.support.fleet import SilentUpstream, instance_config
from tests.support.servers import CaptureHandler, Upstream
from tests.support.waiting import wait_until

LEASE = 5.0
SHORT_LEASE = 1.0
FLEET = {"delivery": {"lease": LEASE, "retry_initial": 0.5, "retry_max": 1.0}}


def send_many(port: int, count: int) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        for n in range(count):
            body = f"Subject: receipt {n}\r\n\r\nthanks\r\n".encode()
            assert client.sendmail("app@example.com", [f"r{n}@example.org"], body) == {}


async def fetch(pg_url: str, sql: str) -> list[Any]:
    conn = await asyncpg.connect(pg_url)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


async def spool_empty(pg_url: str) -> bool:
    return not await fetch(pg_url, "SELECT 1 FROM spool_recipient LIMIT 1")


def delivered_once(upstream: Upstream, count: int) -> None:
    seen = Counter(r for m in upstream.handler.messages for r in m.recipients)
    assert seen == Counter({f"r{n}@example.org": 1 for n in range(count)})


async def test_dead_instance_taken_over_after_lease_restart_steals_nothing(
    tmp_path: Path, pg_url: str, upstream: Upstream, process_factory: Any
) -> None:
    silent = SilentUpstream()  # A's deliveries hang: A holds all 200 when it dies
    try:
        a_config = instance_config(
            tmp_path, "a", pg_url, silent.url, upstream={"timeout": 600}, **FLEET
        )
        a = process_factory(a_config).start()
        b = process_factory(instance_config(tmp_path, "b", pg_url, upstream.url, **FLEET)).start()
        await asyncio.to_thread(send_many, a.smtp_port, 200)
        a.kill()  # SIGKILL
        leased = dict(await fetch(pg_url, "SELECT address, next_attempt FROM spool_recipient"))
        assert len(leased) == 200 and min(leased.values()) > time.time() - 1

        # A comes back (same name, its upstream fixed) while its old leases still run.
        restarted = instance_config(tmp_path, "a", pg_url, upstream.url, **FLEET)
        process_factory(restarted).start()
        after = dict(await fetch(pg_url, "SELECT address, next_attempt FROM spool_recipient"))
        cut = [r for r, due in after.items() if due < leased[r]]
        assert not cut, f"the restart cut leases short: {cut[:3]}"

        await asyncio.to_thread(upstream.handler.wait_for, 200, 60)
        await wait_until(lambda: spool_empty(pg_url), 30)
        delivered_once(upstream, 200)
        b.terminate()
    finally:
        silent.close()


async def test_two_instances_deliver_a_queue_exactly_once(
    tmp_path: Path, pg_url: str, upstream: Upstream, process_factory: Any
) -> None:
    count = 2000
    store = open_store(pg_url)
    await store.open()
    try:
        now = time.time()
        messages = [
            SpoolMessage(
                f"q{n:05d}",
                now,
                "app@example.com",
                f"Subject: queued {n}\r\n\r\nhi\r\n".encode(),
                [SpoolRecipient(f"r{n}@example.org", next_attempt=now)],
                purpose="transactional",
            )
            for n in range(count)
        ]
        await store.commit(WriteBatch(messages=messages))
    finally:
        await store.close()
    for name in ("a", "b"):
        process_factory(instance_config(tmp_path, name, pg_url, upstream.url, **FLEET)).start()
    await asyncio.to_thread(upstream.handler.wait_for, count, 120)
    await wait_until(lambda: spool_empty(pg_url), 60)
    delivered_once(upstream, count)
    rows = await fetch(
        pg_url, "SELECT instance, count(*) FROM decision WHERE phase = 'delivery' GROUP BY 1"
    )
    assert sum(n for _, n in rows) == count


class SlowHandler(CaptureHandler):
    """Answers DATA only after `delay` seconds: deliveries that outlast the lease."""

    delay = 1.5 * SHORT_LEASE

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


async def test_lease_renewed_while_messages_wait_in_a_living_instance(
    tmp_path: Path, pg_url: str, process_factory: Any
) -> None:
    """A delivers one message at a time, each outlasting the lease; the others wait in its
    memory. B polls all along and takes none of them: A renews what it holds."""
    slow = Upstream()
    slow.handler = SlowHandler()
    slow.start()
    try:
        short: dict[str, Any] = {"delivery": {"lease": SHORT_LEASE}}
        one_at_a_time = {"delivery": {"lease": SHORT_LEASE, "workers": 1}}
        a_config = instance_config(tmp_path, "a", pg_url, slow.url, **one_at_a_time)
        a = process_factory(a_config).start()
        process_factory(instance_config(tmp_path, "b", pg_url, slow.url, **short)).start()
        await asyncio.to_thread(send_many, a.smtp_port, 4)
        await asyncio.to_thread(slow.handler.wait_for, 4, 60)
        await wait_until(lambda: spool_empty(pg_url), 30)
        delivered_once(slow, 4)
        rows = await fetch(pg_url, "SELECT DISTINCT instance FROM decision")
        assert [r[0] for r in rows] == ["gw.test/a"]
    finally:
        slow.stop()
