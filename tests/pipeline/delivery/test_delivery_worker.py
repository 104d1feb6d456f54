"""gateway.pipeline.delivery.worker: retries, per-recipient outcomes and what a delivery writes,
against a real upstream SMTP server on loopback and a real SQLite store."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from gateway.addresses import erased_key
from gateway.pipeline.audit import Audit
from gateway.pipeline.delivery.upstream import UpstreamPool, parse_upstream
from gateway.pipeline.delivery.worker import Delivery, RetryPolicy
from gateway.pipeline.writer import DEFAULT_LEASE, Writer
from gateway.store import Store, open_store
from gateway.store.records import Decision, DecisionQuery, SpoolMessage, SpoolRecipient

KEY = b"k" * 32
SENDER = "app@example.com"


@dataclass
class Scripted:
    """Upstream stand-in: refuses the recipients in `refuse` at RCPT with the reply given;
    `hold` makes RCPT wait (in a thread) until the test lets it go."""

    refuse: dict[str, str] = field(default_factory=dict)
    delivered: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    hold: threading.Event | None = None
    holding: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.hold is not None:
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.hold.wait, 30)
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.delivered.append((envelope.mail_from or "", list(envelope.rcpt_tos), content))
        return "250 2.0.0 captured"


@pytest.fixture
def upstream() -> Iterator[tuple[Scripted, str]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    handler = Scripted()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    yield handler, f"smtp://127.0.0.1:{port}"
    if handler.hold is not None:
        handler.hold.set()
    controller.stop()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'delivery.db'}")
    await opened.open()
    yield opened
    await opened.close()


Started = Callable[..., Awaitable[tuple[Delivery, Writer]]]


@pytest.fixture
async def started(store: Store, upstream: tuple[Scripted, str]) -> AsyncIterator[Started]:
    running: list[tuple[Delivery, Writer]] = []

    async def start(retry: RetryPolicy) -> tuple[Delivery, Writer]:
        writer = Writer(store)
        writer.start()
        target = parse_upstream(upstream[1])
        pool = UpstreamPool(target, size=1, local_hostname="gk.test", timeout=10)
        delivery = Delivery(
            store,
            writer,
            Audit(writer, "test"),
            target,
            pool,
            workers=1,
            retry=retry,
            hostname="gk.test",
            erasure_key=KEY,
            poll_interval=0.05,
        )
        delivery.start()
        running.append((delivery, writer))
        return delivery, writer

    yield start
    for delivery, writer in running:
        await delivery.stop(grace=1)
        await writer.stop()


def message(mid: str, *recipients: str, sender: str = SENDER) -> SpoolMessage:
    now = time.time()
    return SpoolMessage(
        id=mid,
        received_at=now,
        sender=sender,
        data=b"From: app@example.com\r\nSubject: hi\r\n\r\nbody\r\n",
        recipients=[SpoolRecipient(a, next_attempt=now + DEFAULT_LEASE) for a in recipients],
        message_id=f"{mid}@example.com",
    )


async def send(delivery: Delivery, writer: Writer, spooled: SpoolMessage) -> None:
    """As the accept stage does: durable first, then handed to delivery in memory."""
    await writer.spool(spooled)
    delivery.submit(spooled)


async def delivery_rows(store: Store, count: int, recipient: str | None = None) -> list[Decision]:
    """The delivery decisions (to `recipient`) once `count` of them are written (bounded)."""
    query = DecisionQuery(phase="delivery", recipient=recipient)
    for _ in range(400):
        rows = [d for _, d in await store.decisions(query)]
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} delivery decisions were written")


@pytest.mark.parametrize("attempts", range(1, 12))
def test_backoff_stays_within_its_bounds(attempts: int) -> None:
    retry = RetryPolicy(initial=60.0, maximum=3600.0)
    ceiling = min(3600.0, 60.0 * 2 ** (attempts - 1))
    delays = [retry.delay(attempts) for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)


async def test_each_recipient_gets_its_own_outcome(
    started: Started, store: Store, upstream: tuple[Scripted, str]
) -> None:
    handler, _ = upstream
    handler.refuse = {
        "bad@example.org": "550 5.1.1 no such user",
        "later@example.org": "450 4.2.1 mailbox busy",
    }
    delivery, writer = await started(RetryPolicy(initial=60.0, maximum=3600.0))
    before = time.time()
    await send(
        delivery,
        writer,
        message("m1", "good@example.org", "bad@example.org", "later@example.org", sender=""),
    )
    rows = await delivery_rows(store, 3)  # the null sender gets no report: no fourth
    await writer.flush()
    assert sorted((d.recipient, d.action, d.reason) for d in rows) == [
        ("bad@example.org", "deny", "bounced"),
        ("good@example.org", "allow", "delivered"),
        ("later@example.org", "defer", "deferred"),
    ]
    assert [(f, t) for f, t, _ in handler.delivered] == [("<>", ["good@example.org"])]
    [queued] = await store.spool_list()  # delivered and bounced recipients are done
    assert (queued.recipient, queued.attempts, queued.last_reply) == (
        "later@example.org",
        1,
        "450 4.2.1 mailbox busy",
    )
    assert before + 30 <= queued.next_attempt <= time.time() + 60
    # a bad mailbox is suppressed; no report for mail from the null sender
    assert [(s.address, s.reason) for s in await store.suppressions()] == [
        ("bad@example.org", "hard-bounce")
    ]


async def test_deferred_past_max_age_bounces_with_a_report(
    started: Started, store: Store, upstream: tuple[Scripted, str]
) -> None:
    handler, _ = upstream
    handler.refuse = {"slow@example.org": "451 4.4.1 try later"}
    delivery, writer = await started(RetryPolicy(max_age=0.0))
    await send(delivery, writer, message("m1", "slow@example.org"))
    [row] = await delivery_rows(store, 1, "slow@example.org")
    assert (row.action, row.reason) == ("deny", "bounced")
    assert row.detail == "expired after 1 attempts: 451 4.4.1 try later"
    for _ in range(400):  # the report to the sender is spooled and delivered like any mail
        if handler.delivered:
            break
        await asyncio.sleep(0.05)
    [(sender, to, report)] = handler.delivered
    assert (sender, to) == ("<>", [SENDER])
    assert b"Final-Recipient: rfc822; slow@example.org\r\nAction: failed\r\n" in report
    assert b"Diagnostic-Code: smtp; expired after 1 attempts: 451 4.4.1 try later" in report
    assert await store.suppressions() == []  # a timeout says nothing about the mailbox


async def test_a_delivery_finishing_after_forget_leaves_no_address_in_clear(
    started: Started, store: Store, upstream: tuple[Scripted, str]
) -> None:
    """Issue 10: the message was in memory when `forget` ran; its outcome came after."""
    handler, _ = upstream
    address = "ann.person@example.org"
    handler.refuse = {"Ann.Person@Example.ORG": f"550 5.1.1 <{address}> no such user"}
    handler.hold = threading.Event()
    hashed = erased_key(KEY, address)
    delivery, writer = await started(RetryPolicy())
    await send(delivery, writer, message("m1", "Ann.Person@Example.ORG", sender=""))
    assert await asyncio.to_thread(handler.holding.wait, 30)  # the upstream is on its RCPT
    await store.forget(address, hashed)  # as `gatekeeper forget` does, from its own process
    handler.hold.set()
    for _ in range(400):
        rows = await store.decisions(DecisionQuery(phase="delivery", recipient=hashed))
        if rows:
            break
        await asyncio.sleep(0.05)
    await delivery.erased_since.settled()
    [(_, row)] = rows
    assert (row.reason, row.detail) == ("bounced", f"550 5.1.1 <{hashed}> no such user")
    everything = [d for _, d in await store.decisions(DecisionQuery())]
    assert not [d for d in everything if address in d.recipient.lower() + d.detail.lower()]
    assert [(s.address, s.reason) for s in await store.suppressions()] == [(hashed, "erased")]
