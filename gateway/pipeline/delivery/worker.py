"""Deliver stage: spool -> upstream, per-recipient outcomes, retries with backoff.

New messages come in memory straight from the SMTP session (their spool rows are leased so
the poller leaves them alone); deferred ones and those left by a crash come back through
`Store.spool_claim` once due. While a message is in memory its lease is renewed
(leases.py, docs/fleet.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiosmtplib

from gateway.addresses import canonical
from gateway.pipeline.audit import Audit
from gateway.pipeline.delivery.dsn import report_message
from gateway.pipeline.delivery.forgotten import ErasedSince
from gateway.pipeline.delivery.leases import Leases
from gateway.pipeline.delivery.outbox import deliver_to_outbox
from gateway.pipeline.delivery.upstream import UpstreamPool, UpstreamTarget, send
from gateway.pipeline.metrics import Metrics
from gateway.pipeline.writer import Writer
from gateway.reports.verp import verp_address
from gateway.store import Store
from gateway.store.records import (
    Decision,
    RecipientUpdate,
    SpoolMessage,
    SpoolRecipient,
    SuppressionEntry,
    Who,
    iso_now,
)

log = logging.getLogger(__name__)

HARD_BOUNCE_STATUSES = frozenset({"5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10"})

ACTIONS = {"delivered": "allow", "deferred": "defer", "bounced": "deny"}


@dataclass(frozen=True)
class Outcome:
    status: str  # delivered | deferred | bounced
    reply: str


@dataclass(frozen=True)
class RetryPolicy:
    initial: float = 60.0
    maximum: float = 3600.0
    max_age: float = 5 * 86400.0

    def delay(self, attempts: int) -> float:
        """Exponential backoff with jitter: the first retry within `initial` seconds."""
        ceiling = min(self.maximum, self.initial * 2 ** max(attempts - 1, 0))
        return ceiling * random.uniform(0.5, 1.0)


Pieces = tuple[bytes, ...]
"""A message as it is sent: its parts in order, never joined (issue 11: held once)."""
Sender = Callable[[SpoolMessage, list[SpoolRecipient], Pieces, str], Awaitable[dict[str, Outcome]]]
"""(message, recipients, bytes, envelope sender) -> outcome per recipient."""


@dataclass(frozen=True)
class Verp:
    """`bounces.domain`: each recipient's copy goes out with its own envelope sender
    `b+TOKEN@domain` (gateway.reports.verp), so the bounce names queue id and recipient."""

    key: bytes
    domain: str

    def sender(self, message: SpoolMessage, recipients: list[SpoolRecipient]) -> str:
        if not message.sender:  # a report stays from the null sender (RFC 5321 §4.5.5)
            return message.sender
        recipient = canonical(recipients[0].address)
        return verp_address(self.key, message.id, recipient, self.domain)


class Delivery:
    def __init__(
        self,
        store: Store,
        writer: Writer,
        audit: Audit,
        target: UpstreamTarget,
        pool: UpstreamPool | None,
        *,
        workers: int,
        retry: RetryPolicy,
        hostname: str,
        erasure_key: bytes,
        poll_interval: float = 1.0,
        metrics: Metrics | None = None,
        verp: Verp | None = None,
    ) -> None:
        self._hostname = hostname
        self._verp = verp
        self._store = store
        self._writer = writer
        self._audit = audit
        self._pool = pool
        self._send: Sender = self._send_outbox if target.scheme == "outbox" else self._send_smtp
        self._outbox = Path(target.path)
        self._retry = retry
        self._queue: asyncio.Queue[SpoolMessage] = asyncio.Queue()
        self._in_flight: set[str] = set()
        self._leases = Leases(store, writer.lease)
        self._room = asyncio.Event()
        self._workers = workers
        self._poll_interval = poll_interval
        self._tasks: list[asyncio.Task[None]] = []
        self.erased_since = ErasedSince(store, writer, erasure_key)
        self._upstream_timer = (
            metrics.upstream_latency.time if metrics is not None else contextlib.nullcontext
        )

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._work(), name=f"delivery-{n}") for n in range(self._workers)
        ]
        self._tasks.append(asyncio.create_task(self._poll(), name="delivery-poll"))
        self._tasks.append(asyncio.create_task(self._leases.renew_forever(), name="delivery-lease"))

    async def stop(self, grace: float = 10.0) -> None:
        """Let messages being sent finish (bounded); the rest stay spooled for the next start."""
        deadline = time.monotonic() + grace
        while self._in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.erased_since.settled(), max(deadline - time.monotonic(), 1))
        await self.erased_since.stop()
        if self._pool is not None:
            await self._pool.close()

    def submit(self, message: SpoolMessage, until: float | None = None) -> None:
        """A message this instance holds until `until` (default: the lease its recipients
        were spooled with)."""
        self._in_flight.add(message.id)
        self._leases.hold(message.id, until or min(r.next_attempt for r in message.recipients))
        self._queue.put_nowait(message)

    @property
    def backlog(self) -> int:
        return len(self._in_flight)

    async def _poll(self) -> None:
        while True:
            full = False
            try:
                full = await self._claim_due()
            except Exception:
                log.exception("spool poll failed; trying again")
            # A full claim means more is due: claim again as soon as the workers make room.
            self._room.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._room.wait() if full else asyncio.sleep(self._poll_interval),
                    self._poll_interval,
                )

    async def _claim_due(self) -> bool:
        """Claims due messages; True when there were as many as asked for."""
        limit = self._workers * 4
        if self._queue.qsize() >= limit:
            return True
        now = time.time()
        claimed = await self._store.spool_claim(now, self._leases.lease, limit)
        for message in claimed:
            if message.id not in self._in_flight:
                self.submit(message, now + self._leases.lease)
        return len(claimed) >= limit

    async def _work(self) -> None:
        while True:
            message = await self._queue.get()
            if self._queue.qsize() < self._workers * 2:
                self._room.set()
            try:
                if self._leases.still_held(message.id):
                    await self._deliver(message)
            except Exception:
                # Our own fault: keep the message, try again later.
                log.exception("delivery of %s failed inside the gateway", message.id)
                self._finish(
                    message,
                    {
                        r.address: Outcome("deferred", "451 4.3.0 gateway fault")
                        for r in message.recipients
                    },
                )
            finally:
                self._in_flight.discard(message.id)
                self._leases.drop(message.id)
            # An idle worker must not keep its last message (up to max_message_size) alive.
            del message

    async def _deliver(self, message: SpoolMessage) -> None:
        outcomes: dict[str, Outcome] = {}
        verp = self._verp if message.sender else None
        for content, recipients in _groups(message, split=verp is not None):
            sender = message.sender if verp is None else verp.sender(message, recipients)
            outcomes.update(await self._send(message, recipients, content, sender))
        self._finish(message, outcomes)

    def _finish(self, message: SpoolMessage, outcomes: dict[str, Outcome]) -> None:
        now = time.time()
        updates: list[RecipientUpdate] = []
        decisions: list[Decision] = []
        for recipient in message.recipients:
            outcome = outcomes[recipient.address]
            attempts = recipient.attempts + 1
            if outcome.status == "deferred" and now - message.received_at >= self._retry.max_age:
                outcome = Outcome("bounced", f"expired after {attempts} attempts: {outcome.reply}")
            next_attempt = now + self._retry.delay(attempts)
            updates.append(
                RecipientUpdate(
                    message.id,
                    recipient.address,
                    outcome.status,
                    attempts,
                    next_attempt,
                    outcome.reply,
                )
            )
            decisions.append(_delivery_decision(message, recipient.address, outcome))
        self._writer.update(updates)
        self._audit.record(decisions)
        bounced = [(u.address, u.last_reply) for u in updates if u.status == "bounced"]
        self._writer.suppress(
            [
                SuppressionEntry(canonical(address), "all", "hard-bounce", "delivery", iso_now())
                for address, reply in bounced
                if _bad_mailbox(reply)
            ]
        )
        if bounced and message.sender:  # never report on a report (null sender)
            # committed with the bounce itself, delivered like any message
            self._writer.spool_later(report_message(message, bounced, self._hostname, now))
        # A forget may have run while the message was in memory (delivery.forgotten).
        self.erased_since.note([*(r.address for r in message.recipients), message.sender])

    async def _send_outbox(
        self, message: SpoolMessage, recipients: list[SpoolRecipient], content: Pieces, sender: str
    ) -> dict[str, Outcome]:
        outcomes = {}
        for index, recipient in enumerate(recipients):
            name = f"{message.id}-{_slug(recipient.address)}-{index}"
            try:
                path = await deliver_to_outbox(
                    self._outbox, name, sender, recipient.address, content
                )
            except OSError as exc:
                outcomes[recipient.address] = Outcome("deferred", f"outbox: {exc}")
                continue
            outcomes[recipient.address] = Outcome("delivered", f"written to {path}")
        return outcomes

    async def _send_smtp(
        self, message: SpoolMessage, recipients: list[SpoolRecipient], content: Pieces, sender: str
    ) -> dict[str, Outcome]:
        assert self._pool is not None
        addresses = [r.address for r in recipients]
        options = _mail_options(message, addresses, content)
        for fresh in (False, True):
            try:
                async with self._pool.connection(fresh=fresh) as client:
                    with self._upstream_timer():
                        errors, reply = await send(client, sender, addresses, content, options)
            except aiosmtplib.SMTPServerDisconnected as exc:
                # A pooled connection the upstream closed while idle: one fresh try.
                if fresh:
                    return _all(addresses, Outcome("deferred", f"disconnected: {exc}"))
                continue
            except aiosmtplib.SMTPRecipientsRefused as exc:
                return {e.recipient: _refused(e.code, e.message) for e in exc.recipients}
            except aiosmtplib.SMTPResponseException as exc:
                return _all(addresses, _refused(exc.code, exc.message))
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                return _all(addresses, Outcome("deferred", f"{type(exc).__name__}: {exc}"))
            outcomes = _all(addresses, Outcome("delivered", f"250 {reply}".strip()))
            for address, response in errors.items():
                outcomes[address] = _refused(response.code, response.message)
            return outcomes
        raise AssertionError("unreachable")


def _groups(message: SpoolMessage, split: bool) -> list[tuple[Pieces, list[SpoolRecipient]]]:
    """Recipients that get the same bytes share one upstream transaction; with VERP
    (`split`) every recipient has an envelope sender, so a transaction, of its own."""
    head, data = message.head, message.data
    if split:
        return [(r.pieces(head, data), [r]) for r in message.recipients]
    plain = [r for r in message.recipients if not r.prefix and r.data is None]
    groups = [(SpoolRecipient("").pieces(head, data), plain)] if plain else []
    groups += [
        (r.pieces(head, data), [r]) for r in message.recipients if r.prefix or r.data is not None
    ]
    return groups


def _mail_options(message: SpoolMessage, addresses: list[str], content: Pieces) -> list[str]:
    options = []
    if not all(piece.isascii() for piece in content):
        options.append("BODY=8BITMIME")  # RFC 6152
    if not message.sender.isascii() or not all(a.isascii() for a in addresses):
        options.append("SMTPUTF8")  # RFC 6531
    return options


def _bad_mailbox(reply: str) -> bool:
    """A permanent failure that says the mailbox itself is bad (RFC 3463 5.1.x: no such
    user, bad domain or syntax, moved, null MX), not a refusal of this one message."""
    parts = reply.split(maxsplit=2)
    return len(parts) > 1 and parts[1] in HARD_BOUNCE_STATUSES


def _refused(code: int, text: str) -> Outcome:
    status = "bounced" if 500 <= code < 600 else "deferred"
    return Outcome(status, folded_reply(code, text))


_LEADING_STATUS = re.compile(r"\s*([245]\.\d{1,3}\.\d{1,3})(?:\s+|$)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def folded_reply(code: int, text: str) -> str:
    """An upstream reply on one line: `CODE STATUS text…`. A multi-line reply's lines are
    joined and stripped of control characters before the reply enters a decision row, a log
    line or a DSN, so its text cannot pose as fields (RFC 3464 §2.3 blocks are line-based).
    RFC 2034 §4 puts the enhanced status on every line; the first line that has one names it."""
    status = ""
    words = []
    for line in text.splitlines():
        leading = _LEADING_STATUS.match(line)
        if leading:
            status = status or leading.group(1)
            line = line[leading.end() :]
        words.append(_CONTROL.sub(" ", line).strip())
    rest = " ".join(w for w in words if w)
    return " ".join(part for part in (str(code), status, rest) if part)


def _all(addresses: list[str], outcome: Outcome) -> dict[str, Outcome]:
    return dict.fromkeys(addresses, outcome)


def _slug(address: str) -> str:
    return "".join(c if c.isalnum() or c in "._@-" else "_" for c in address)[:100]


def _delivery_decision(message: SpoolMessage, address: str, outcome: Outcome) -> Decision:
    who = Who(
        message.session_id,
        message.client,
        message.auth_user,
        message.sender,
        message.message_id,
        message.id,
    )
    return who.decision(
        phase="delivery",
        action=ACTIONS[outcome.status],
        recipient=canonical(address),
        purpose=message.purpose,
        topic=message.topic,
        reason=outcome.status,
        detail=outcome.reply,
    )
