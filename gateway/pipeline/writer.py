"""Group commit: every write of the gateway goes into the next batch, one transaction each.

While one batch is being committed the next one fills up, so under load one fsync serves
many SMTP sessions; a session's 250 waits for the commit that holds its message. Decision
rows and delivery updates ride along without waiting: nobody waits for them, so a batch of
only such rows waits up to RIDE for a commit someone waits for, instead of a commit (and an
fsync) of its own that the next message's spool write would then queue behind. A crash
loses at most that long of them: a delivery update lost means the message is sent again, as
for any crash between the upstream's 250 and the commit.
"""

from __future__ import annotations

import asyncio
import logging

from gateway.consent.erasure import stored_erasure_key
from gateway.pipeline.diskspace import DiskSpace
from gateway.pipeline.events import EventSource
from gateway.pipeline.replies import DISK_LOW
from gateway.store import Store
from gateway.store.chain import Link
from gateway.store.records import (
    Decision,
    RecipientUpdate,
    SpoolMessage,
    SuppressionEntry,
    WriteBatch,
)
from gateway.store.storable import make_storable

log = logging.getLogger(__name__)

RIDE = 0.02
"""Seconds rows nobody waits for wait for a commit someone waits for (issue 14: at 210
messages/s, the RCPT row's and the delivery update's own commits were two of every three,
and a message's spool commit queued behind them)."""

DEFAULT_LEASE = 600.0
"""`delivery.lease`: seconds a claimed or freshly spooled message belongs to this instance
(delivery renews it while the message is in memory): the accept stage spools new recipients
due after it, and the delivery poller claims due ones for it."""


class Writer:
    def __init__(
        self,
        store: Store,
        *,
        window: float = 0.0,
        lease: float = DEFAULT_LEASE,
        disk: DiskSpace | None = None,
    ) -> None:
        self._store = store
        self._disk = disk
        self.failure = ""
        """Why the last commit (or recovery probe) failed; empty once one succeeds. /readyz
        is false while it is set."""
        self._window = window
        self.lease = lease
        self._batch = WriteBatch()
        self.events: EventSource | None = None
        """Events for the application ride in the batch of the rows that cause them."""
        self._waiters: list[asyncio.Future[None]] = []
        self._riders: list[asyncio.Future[None]] = []
        """Those told of the next commit without hurrying it (`committed`)."""
        self._unattended: set[str] = set()
        """Messages nobody waits for: kept for the next try if a commit fails."""
        self._wake = asyncio.Event()
        self._ride: asyncio.Future[None] | None = None
        """While rows ride along: ended when someone waits for the next commit, which they
        then join, or after RIDE."""
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.chain_key: bytes | None = None
        """The erasure key (`retention.erasure_key`) the decision chain digests addresses
        with; unset = the one the store keeps, as gateway/consent/erasure.py makes it."""
        self._links: dict[str, Link] = {}
        """Each instance's chain head: this writer is the only one extending it."""

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gatekeeper-writer")

    async def stop(self, timeout: float = 10.0) -> None:
        """Flush what is pending, then stop; a store that stays down does not hold the exit
        (unwritten delivery updates only mean those messages are sent again)."""
        try:
            await asyncio.wait_for(self.flush(), timeout)
        except TimeoutError:
            log.error(
                "store unavailable at stop: %d decision rows and %d delivery updates not written",
                len(self._batch.decisions),
                len(self._batch.updates),
            )
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def storage_refusal(self) -> str | None:
        """The 452 for new mail while the store's disk is below its floor, else None."""
        return DISK_LOW if self._disk is not None and self._disk.low() else None

    async def spool(self, message: SpoolMessage) -> None:
        """Returns once the message is durable; raises if the commit failed."""
        make_storable([message, *message.recipients])
        self._batch.messages.append(message)
        await self.written()

    async def written(self) -> None:
        """Returns once everything handed in so far is committed; raises if that failed."""
        self._end_ride()
        await self._next_commit(self._waiters)

    async def committed(self) -> None:
        """As `written`, for a background task: the rows handed in so far keep riding (up to
        RIDE) for a commit someone else waits for, instead of forcing an fsync of their own."""
        await self._next_commit(self._riders)

    async def _next_commit(self, told: list[asyncio.Future[None]]) -> None:
        future = asyncio.get_running_loop().create_future()
        told.append(future)
        self._kick()
        await future

    def spool_later(self, message: SpoolMessage) -> None:
        """Spool without waiting: for mail the gateway writes itself (reports), which rides in
        the same transaction as the change that caused it."""
        make_storable([message, *message.recipients])
        self._batch.messages.append(message)
        self._unattended.add(message.id)
        self._kick()

    def record(self, decisions: list[Decision]) -> None:
        make_storable(decisions)  # before the chain hashes them
        self._batch.decisions.extend(decisions)
        if self.events:
            self._batch.events.extend(self.events.for_decisions(decisions))
        self._kick()

    def update(self, updates: list[RecipientUpdate]) -> None:
        make_storable(updates)
        self._batch.updates.extend(updates)
        self._kick()

    def suppress(self, entries: list[SuppressionEntry]) -> None:
        make_storable(entries)
        self._batch.suppressions.extend(entries)
        if self.events:
            self._batch.events.extend(self.events.for_suppressions(entries))
        self._kick()

    async def flush(self) -> None:
        """Wait until everything handed in so far is committed (or failed)."""
        while self._batch or not self._idle.is_set():
            self._end_ride()  # the rows are waited for now: no riding
            self._kick()
            await self._idle.wait()
            if self._batch:
                await asyncio.sleep(0)

    def _kick(self) -> None:
        self._idle.clear()
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._window:
                await asyncio.sleep(self._window)
            elif not self._waiters:
                await self._ride_along()
            batch, waiters = self._batch, self._waiters + self._riders
            self._batch, self._waiters, self._riders = WriteBatch(), [], []
            if batch or waiters:
                await self._commit(batch, waiters)
            elif self.failure:
                await self._probe()
            if not self._batch:
                self._idle.set()

    async def _ride_along(self) -> None:
        """Wait up to RIDE for someone to wait for a commit, which these rows then join. A
        future and a timer: `asyncio.wait_for` would make a task per ride, and cost the
        session that ends it two more turns of the loop before its commit starts."""
        loop = asyncio.get_running_loop()
        self._ride = loop.create_future()
        timer = loop.call_later(RIDE, self._end_ride)
        try:
            await self._ride
        finally:
            timer.cancel()
            self._ride = None

    def _end_ride(self) -> None:
        if self._ride is not None and not self._ride.done():
            self._ride.set_result(None)

    async def _commit(self, batch: WriteBatch, waiters: list[asyncio.Future[None]]) -> None:
        try:
            if batch:  # a waiter on an empty batch waits only for the commits before it
                await self._link(batch.decisions)
                await self._store.commit(batch)
        except Exception as exc:  # the store is down: the sessions answer 451, nothing is lost
            log.exception("store commit failed (%d messages)", len(batch.messages))
            self.failure = f"{type(exc).__name__}: {exc}"
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
            self._requeue(batch)
            await asyncio.sleep(1.0)  # let the store recover instead of spinning
            return
        if batch:
            self._recovered()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._unattended.difference_update(m.id for m in batch.messages)

    async def _link(self, decisions: list[Decision]) -> None:
        """Chain the rows not chained yet (docs/accountability.md), in the order they are
        inserted; rows a failed commit handed back keep their link, so the retry writes them
        as they were. A head is read from the store once, at the first row of its instance."""
        fresh = [d for d in decisions if not d.chain_hash]
        for instance in {d.instance for d in fresh} - self._links.keys():
            key = self.chain_key or await stored_erasure_key(self._store)
            n, head = await self._store.chain_head(instance)
            self._links[instance] = Link(key, n, head)
        for decision in fresh:
            self._links[decision.instance].link(decision)

    async def _probe(self) -> None:
        """After a failed commit with nothing left to write (the sessions' messages were
        refused, not kept), a small write of its own each second tells when the store can
        commit again; otherwise /readyz would stay false until traffic it keeps away."""
        try:
            await self._store.write_probe()
        except Exception as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
            await asyncio.sleep(1.0)
            self._wake.set()
            return
        self._recovered()

    def _recovered(self) -> None:
        if self.failure:
            log.info("store commits succeed again")
            self.failure = ""

    def _requeue(self, batch: WriteBatch) -> None:
        """Decisions, updates and our own reports are kept for the next try; the sessions'
        messages were refused with 451."""
        self._batch.decisions[:0] = batch.decisions
        self._batch.updates[:0] = batch.updates
        self._batch.suppressions[:0] = batch.suppressions
        self._batch.events[:0] = batch.events
        self._batch.messages[:0] = [m for m in batch.messages if m.id in self._unattended]
        self._wake.set()
