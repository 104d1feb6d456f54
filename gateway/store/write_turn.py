"""Whose turn it is to write an SQLite store, among the processes of one gateway.

SQLite lets one connection write at a time; a second one that asks (BEGIN IMMEDIATE) is
told "busy" and its busy handler sleeps 1, 2, 5, 10 … ms before asking again, however soon
the first commits. With several SMTP processes (smtp.processes) each committing every few
milliseconds, those sleeps would set the pace. A lock on a file beside the database
(flock(2)) hands the turn over the moment it is released instead. Other programs writing
the file (a `gatekeeper` command) do not take it; SQLite's own busy wait still guards
them.

The spool's group commit, on the path of every message's 250, takes the turn on the
writer's own thread (`held`), where waiting blocks nothing else: one hop from the event loop
for the whole commit instead of a flock on the loop and, when the turn is taken, another
thread's wait in between. Other transactions take it from the loop (`async with`).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import Iterator
from types import TracebackType


class WriteTurn:
    def __init__(self, database: str) -> None:
        self._path = None if database == ":memory:" else f"{database}-turn"
        self._fd: int | None = None

    def open(self) -> None:
        if self._path is not None:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    async def __aenter__(self) -> None:
        fd = self._fd
        if fd is None:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        # Waited for in a thread; if the waiter is cancelled meanwhile, the turn it then
        # gets is given back at once rather than held for good.
        waiting = asyncio.ensure_future(asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_EX))
        try:
            await asyncio.shield(waiting)
        except asyncio.CancelledError:
            waiting.add_done_callback(lambda _: self._release(fd))
            raise

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """The turn for a block of code on a thread that may wait for it."""
        fd = self._fd
        if fd is None:
            yield
            return
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            self._release(fd)

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            self._release(self._fd)

    @staticmethod
    def _release(fd: int) -> None:
        with contextlib.suppress(OSError):  # closed already: the lock went with it
            fcntl.flock(fd, fcntl.LOCK_UN)
