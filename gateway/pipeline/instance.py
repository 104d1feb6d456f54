"""Who this instance is among those sharing one store, and its heartbeat (docs/fleet.md).

The name goes into every decision row (`instance`) and marks the spool recipients this
instance holds under a lease. It is `smtp.hostname` (the public name every instance of a
fleet shares) and an id stable across restarts: `store.instance` when set, else this host's
name and the SMTP listen port, which no two instances on one host share.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable

from gateway.config import Config
from gateway.config_values import parse_hostport
from gateway.store import Store
from gateway.store.records import InstanceRow, iso_now

log = logging.getLogger(__name__)

HEARTBEAT = 10.0
"""Seconds between heartbeats."""
ALIVE_WITHIN = 3 * HEARTBEAT
"""An instance whose last heartbeat is older than this is shown as gone."""


def instance_name(config: Config, hostname: str) -> str:
    """`smtp.hostname/ID`; with an ephemeral listen port (0, tests) the id holds the
    process id instead, which no living instance on the host shares either."""
    if config.store.instance:
        return f"{hostname}/{config.store.instance}"
    _, port = parse_hostport(config.smtp.listen)
    own = str(port) if port else f"pid{os.getpid()}"
    return f"{hostname}/{socket.gethostname()}:{own}"


class Heartbeat:
    """Writes this instance's row every HEARTBEAT seconds: when it was last seen, where it
    listens, how many messages it has in memory."""

    def __init__(self, store: Store, backlog: Callable[[], int]) -> None:
        self._store = store
        self._backlog = backlog
        self._started = iso_now()
        self.smtp = ""
        self.http = ""
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gatekeeper-heartbeat")

    async def stop(self) -> None:
        """A clean stop says so at once (seen at 0: gone), not after ALIVE_WITHIN."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        try:
            await self._beat(0.0)
        except Exception as exc:  # the store is away: the row just ages out
            log.warning("last heartbeat not written: %s", exc)

    async def _run(self) -> None:
        while True:
            try:
                await self._beat(time.time())
            except Exception as exc:
                log.warning("heartbeat not written: %s", exc)
            await asyncio.sleep(HEARTBEAT)

    async def _beat(self, seen_at: float) -> None:
        row = InstanceRow(
            self._store.holder, self._started, seen_at, self.smtp, self.http, self._backlog()
        )
        await self._store.heartbeat(row)
