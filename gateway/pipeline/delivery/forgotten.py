"""A delivery that outlives a `forget` of its addresses does not leave them in clear.

A message in memory was read from the spool before the address was erased; its outcome (the
delivery decision row, a hard-bounce suppression) names the address as it was. Checking
before writing leaves a window (the erasure may commit between the check and the write);
checking after our commit does not:

- the erasure committed before the check: the check finds its marker (the `erased`
  suppression under the address's keyed hash) and erases the address again, which re-keys
  the rows just written (`Store.forget` is idempotent);
- it committed after our commit: it re-keyed our rows itself.

The check costs one keyed hash per recipient and one store read per writer commit while
deliveries finish, not one per message: addresses noted meanwhile share the read.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable

from gateway.addresses import AddressError, canonical, erased_key
from gateway.pipeline.writer import Writer
from gateway.store import Store

log = logging.getLogger(__name__)

RETRY = 1.0
"""Seconds before checking again after the store failed."""


class ErasedSince:
    """Erases again the addresses of finished deliveries that were forgotten meanwhile."""

    def __init__(self, store: Store, writer: Writer, key: bytes) -> None:
        self._store = store
        self._writer = writer
        self._key = key
        self._pending: dict[str, str] = {}
        """Canonical address -> its keyed hash, for rows handed to the writer."""
        self._task: asyncio.Task[None] | None = None

    def note(self, addresses: Iterable[str]) -> None:
        """Addresses just handed to the writer in clear (after `Writer` calls, same tick)."""
        for address in addresses:
            try:
                key = canonical(address)
            except AddressError:  # the null sender, or a sender no mailbox can have
                continue
            if key not in self._pending:
                self._pending[key] = erased_key(self._key, key)
        if self._pending and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._run(), name="delivery-erased-since")

    async def settled(self) -> None:
        """Wait until every address noted so far has been checked."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, {}
            try:
                await self._writer.committed()
                await self._erase_again(batch)
            except Exception:
                log.exception("checking %d delivered addresses for erasure failed", len(batch))
                self._pending = batch | self._pending
                await asyncio.sleep(RETRY)

    async def _erase_again(self, batch: dict[str, str]) -> None:
        found = await self._store.recipient_facts([], list(batch.values()))
        for address, hashed in batch.items():
            facts = found.get(hashed)
            if facts is not None and any(s.reason == "erased" for s in facts.suppressions):
                await self._store.forget(address, hashed)
                log.info("%s erased again: a delivery outlived its forget", hashed)
