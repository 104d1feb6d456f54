"""The leases this instance holds on the messages in its memory (docs/fleet.md).

A message spooled or claimed by this instance is leased to it for `delivery.lease` seconds.
While it is in memory — being delivered, or waiting for a worker — the lease is renewed every
third of that time, so it never lapses under a living instance. A message whose lease ran out
all the same (the database was out of reach that long, and another instance may have claimed
it) is not delivered from memory: it is left to whoever claims it, rather than risk sending
it twice.
"""

from __future__ import annotations

import asyncio
import logging
import time

from gateway.store import Store

log = logging.getLogger(__name__)

RENEW_CHUNK = 5000
"""Messages per renewal statement (SQLite takes a key list as that many parameters)."""


class Leases:
    def __init__(self, store: Store, lease: float) -> None:
        self._store = store
        self.lease = lease
        self._until: dict[str, float] = {}
        """Until when this instance holds each message in memory (epoch seconds)."""

    def hold(self, message_id: str, until: float) -> None:
        self._until[message_id] = until

    def drop(self, message_id: str) -> None:
        self._until.pop(message_id, None)

    def still_held(self, message_id: str) -> bool:
        """Whether the lease leaves time to deliver (a renewal comes every third of it)."""
        if time.time() < self._until.get(message_id, 0.0) - self.lease / 3:
            return True
        log.warning("lease of %s ran out: left to the instance that claims it", message_id)
        return False

    async def renew_forever(self) -> None:
        """Every third of the lease, extend it on every message in memory."""
        while True:
            await asyncio.sleep(self.lease / 3)
            ids = list(self._until)
            for start in range(0, len(ids), RENEW_CHUNK):
                until = time.time() + self.lease
                try:
                    held = await self._store.spool_renew(ids[start : start + RENEW_CHUNK], until)
                except Exception as exc:  # the database is away: leases run on, then lapse
                    log.warning("lease renewal failed: %s", exc)
                    break
                for mid in held & self._until.keys():
                    self._until[mid] = until
