"""The free-space floor: new mail is refused `452 4.3.1` while the store's disk is nearly
full, before a commit fails for want of space (and before the WAL cannot grow)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from gateway.store.sqlite import sqlite_path

log = logging.getLogger(__name__)

CHECK_INTERVAL = 1.0
"""Seconds a statvfs answer is reused: one system call a second, however busy the listener."""


class DiskSpace:
    def __init__(
        self, directory: str, floor: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.directory, self.floor = directory, floor
        self._clock = clock
        self._checked = -CHECK_INTERVAL
        self._low = False

    @classmethod
    def for_store(cls, url: str, floor: int) -> DiskSpace | None:
        """The floor on the SQLite file's directory; None for a server database (its disk
        is the database server's to watch) or when the floor is 0."""
        if not floor or not url.startswith("sqlite:///"):
            return None
        path = sqlite_path(url)
        if path == ":memory:":
            return None
        return cls(str(Path(os.path.abspath(path)).parent), floor)

    def free(self) -> int:
        """Bytes an unprivileged process may still write there."""
        stat = os.statvfs(self.directory)
        return stat.f_bavail * stat.f_frsize

    def low(self) -> bool:
        now = self._clock()
        if now - self._checked < CHECK_INTERVAL:
            return self._low
        self._checked = now
        try:
            free = self.free()
        except OSError:
            return self._low  # the commit that follows reports what is wrong
        low = free < self.floor
        if low != self._low:
            log.log(
                logging.ERROR if low else logging.INFO,
                "free space on %s is %d bytes, %s store.min_free_bytes (%d): %s",
                self.directory,
                free,
                "below" if low else "above",
                self.floor,
                "new mail is refused with 452 4.3.1" if low else "new mail is accepted again",
            )
        self._low = low
        return low
