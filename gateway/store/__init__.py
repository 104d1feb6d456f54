"""The store: one narrow async interface (interface.py), two engines (SQLite embedded,
PostgreSQL shared) over one implementation of their common logic (docs/store.md).

Writes go through `commit(WriteBatch)` so that one transaction (and one fsync) serves many
SMTP sessions at once; see gateway/pipeline/writer.py.
"""

from __future__ import annotations

from gateway.store.interface import Store, StoreError
from gateway.store.postgres import PostgresStore
from gateway.store.sqlite import SqliteStore

__all__ = ["Store", "StoreError", "open_store"]


def open_store(
    url: str, *, synchronous: str = "FULL", pool_min: int = 1, pool_max: int = 10
) -> Store:
    """Engine for a `store.url`: `sqlite:///rel.db`, `sqlite:////abs.db`, `postgresql://…`."""
    if url.startswith("sqlite:///"):
        return SqliteStore(url, synchronous=synchronous)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url, pool_min=pool_min, pool_max=pool_max)
    raise StoreError(f"store.url: unsupported URL {url!r} (sqlite:/// or postgresql://)")
