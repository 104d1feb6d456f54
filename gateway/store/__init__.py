"""The store: one narrow async interface, two engines (SQLite embedded, PostgreSQL shared).

Writes go through `commit(WriteBatch)` so that one transaction (and one fsync) serves many
SMTP sessions at once; see gateway/writer.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gateway.store.records import (
    Decision,
    DecisionQuery,
    QueueEntry,
    SpoolMessage,
    WriteBatch,
)


class StoreError(Exception):
    """The store cannot be used (bad URL, schema newer than this code, ...)."""


class Store(Protocol):
    url: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None: ...

    async def commit(self, batch: WriteBatch) -> None:
        """Write the batch in one durable transaction."""

    async def spool_claim(self, now: float, lease: float, limit: int) -> list[SpoolMessage]:
        """Messages with recipients due at `now`, leased for `lease` seconds to this caller."""

    async def spool_release(self, now: float) -> int:
        """Make every queued recipient due now (start-up of the only instance)."""

    async def spool_list(self) -> list[QueueEntry]: ...

    async def spool_retry(self, ids: Sequence[str], now: float) -> int:
        """Make the given messages (all when empty) due now; returns recipients touched."""

    async def decisions(self, query: DecisionQuery) -> list[tuple[int, Decision]]:
        """Decisions matching the query with their sequence numbers, for keyset paging."""


def open_store(url: str, *, synchronous: str = "FULL") -> Store:
    """Engine for a `store.url`: `sqlite:///rel.db`, `sqlite:////abs.db`, `postgresql://…`."""
    if url.startswith("sqlite:///"):
        from gateway.store.sqlite import SqliteStore

        return SqliteStore(url, synchronous=synchronous)
    if url.startswith(("postgresql://", "postgres://")):
        from gateway.store.postgres import PostgresStore

        return PostgresStore(url)
    raise StoreError(f"store.url: unsupported URL {url!r} (sqlite:/// or postgresql://)")
