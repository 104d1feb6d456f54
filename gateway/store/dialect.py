"""What differs between the engines, and nothing else.

The shared logic (`base.py`, `consent.py`) writes its SQL once, with `?` placeholders, and
runs it on a `Connection`. Each engine supplies:

- a `Connection` over its driver: how a statement runs, how rows come back, how many rows a
  statement touched (`?` becomes `$1…$n` on PostgreSQL);
- a `Dialect`: how a list of keys becomes one parameter set (`?,?,?` on SQLite, one array on
  PostgreSQL, so a statement is prepared once whatever the number of keys);
- how a transaction opens (`transaction()`), where plain reads run (`reading()`), where the
  per-recipient look-up runs (`lookup_rows()`), and how due spool messages are claimed
  (`spool_claim`: SQLite's single process vs PostgreSQL's `FOR UPDATE SKIP LOCKED`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol


class Connection(Protocol):
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the rows it touched."""

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]: ...

    def stream(self, sql: str) -> AsyncIterator[Sequence[Any]]:
        """Rows of a large result a chunk at a time (`db export`), never all in memory."""
        ...


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str
    """`sqlite` or `postgresql`, as schema.render() knows them."""
    array_keys: bool
    """Whether a key list is passed as one array parameter (PostgreSQL) or key by key."""

    def key_list(self, keys: Sequence[str]) -> tuple[str, list[Any]]:
        """The inside of `IN (…)` for these keys, and its parameters."""
        if self.array_keys:
            return "SELECT unnest(?::text[])", [list(keys)]
        return marks(len(keys)) if keys else "NULL", list(keys)


class Engine(ABC):
    """The hooks an engine gives the shared logic."""

    url: str
    dialect: Dialect

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """A connection inside one transaction: committed on exit, rolled back on an error."""

    @abstractmethod
    def reading(self) -> AbstractAsyncContextManager[Connection]:
        """A connection for reads outside any transaction of ours."""

    @abstractmethod
    def snapshot(self) -> AbstractAsyncContextManager[Connection]:
        """A connection whose reads all see one consistent state (`db export`)."""

    @abstractmethod
    async def lookup_rows(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        """Rows of the per-recipient facts look-up, on the engine's fastest path."""


SQLITE = Dialect("sqlite", array_keys=False)
POSTGRESQL = Dialect("postgresql", array_keys=True)


STREAM_CHUNK = 1000
"""Rows fetched per round trip by `Connection.stream`."""


def marks(count: int) -> str:
    return ",".join("?" * count)


@lru_cache(maxsize=512)
def numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, …` (no `?` appears in our SQL otherwise)."""
    parts = sql.split("?")
    return parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], start=1))


def affected(status: str) -> int:
    """Row count from a PostgreSQL command status such as `DELETE 3` or `INSERT 0 1`."""
    return int(status.rsplit(" ", 1)[-1])
