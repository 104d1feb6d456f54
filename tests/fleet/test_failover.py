"""PostgreSQL restarted in the middle of a run: every message answered 250 is delivered, the
others are answered 4xx (never 5xx, never a dropped connection), and the pool reconnects.
The cluster is the test's own (tests/support/fleet.py), so restarting it disturbs nobody."""

from __future__ import annotations

import asyncio
import smtplib
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fleet import PrivatePostgres, instance_config
from tests.support.servers import Upstream

MESSAGES = 500
SENDERS = 4
RESTART_AFTER = 100


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    try:
        cluster = PrivatePostgres().start()
    except (OSError, ValueError) as exc:
        pytest.skip(f"no PostgreSQL binaries to run a private cluster: {exc}")
    yield cluster
    cluster.stop()


def send_share(port: int, numbers: range, replies: dict[int, int], started: threading.Event):
    client = smtplib.SMTP("127.0.0.1", port, timeout=60)
    for n in numbers:
        body = f"Subject: receipt {n}\r\n\r\nthanks\r\n".encode()
        try:
            client.sendmail("app@example.com", [f"r{n}@example.org"], body)
            replies[n] = 250
        except smtplib.SMTPRecipientsRefused as exc:
            replies[n] = exc.recipients[f"r{n}@example.org"][0]
        except smtplib.SMTPResponseException as exc:
            replies[n] = exc.smtp_code
            client.rset()
        if len(replies) >= RESTART_AFTER:
            started.set()
    client.quit()


async def test_postgres_restart_mid_run(
    tmp_path: Path, private_pg: PrivatePostgres, upstream: Upstream, process_factory: Any
) -> None:
    config = instance_config(tmp_path, "a", private_pg.url, upstream.url)
    gw = process_factory(config).start()
    replies: dict[int, int] = {}
    started = threading.Event()
    shares = [range(k, MESSAGES, SENDERS) for k in range(SENDERS)]
    senders = [
        threading.Thread(target=send_share, args=(gw.smtp_port, share, replies, started))
        for share in shares
    ]
    for thread in senders:
        thread.start()
    assert await asyncio.to_thread(started.wait, 60)
    await asyncio.to_thread(private_pg.restart)
    for thread in senders:
        await asyncio.to_thread(thread.join, 120)
    assert len(replies) == MESSAGES
    codes = Counter(replies.values())
    assert set(codes) <= {250} | set(range(400, 500)), codes
    # The pool reconnected: the next message is accepted.
    again: dict[int, int] = {}
    await asyncio.to_thread(send_share, gw.smtp_port, range(MESSAGES, MESSAGES + 1), again, started)
    assert again == {MESSAGES: 250}
    replies.update(again)
    accepted = {f"r{n}@example.org" for n, code in replies.items() if code == 250}
    await asyncio.to_thread(upstream.handler.wait_for, len(accepted), 60)
    got = {r for m in upstream.handler.messages for r in m.recipients}
    assert accepted <= got
