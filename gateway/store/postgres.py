"""PostgreSQL engine (asyncpg): the store for several gateway instances sharing one database.

Its part of the dialect layer: a connection pool, `$n` placeholders, key lists as array
parameters, and the spool claim below.

Every instance claims due spool recipients by leasing them (next_attempt moved to now + lease)
inside a transaction that locks the claimed messages with FOR UPDATE SKIP LOCKED, so
concurrent claimers take disjoint messages instead of waiting on each other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from gateway.store.consent import ConsentSide
from gateway.store.dialect import POSTGRESQL, STREAM_CHUNK, Connection, affected, numbered
from gateway.store.events import EventSide
from gateway.store.interface import StoreError
from gateway.store.records import SpoolMessage
from gateway.store.reports import ReportSide
from gateway.store.schema import render
from gateway.store.spool import SpoolSide
from gateway.store.sql import SPOOL_MESSAGE_COLUMNS, SPOOL_RECIPIENT_COLUMNS, spool_messages

MIGRATION_LOCK = 0x6761_7465_6B65_6570
"""pg_advisory_xact_lock key ("gatekeep"): instances starting together migrate one at a time."""

# Whole messages are the unit of a claim: locking the message row (not its recipients) lets a
# second claimer skip it entirely and take the next due message.
CLAIM_MESSAGES = (
    "SELECT m.id FROM spool_message m JOIN (SELECT message_id, min(next_attempt) AS due"
    " FROM spool_recipient WHERE next_attempt <= $1 GROUP BY message_id) d"
    " ON d.message_id = m.id ORDER BY d.due LIMIT $2 FOR UPDATE OF m SKIP LOCKED"
)
# A new statement sees what a claimer that committed meanwhile leased, so those recipients
# are no longer due here and are not claimed twice. SKIP LOCKED also passes over a recipient
# that a commit is finishing (its lease ran out during delivery): waiting for it while holding
# the message lock, which that commit needs next to drop an empty message, would deadlock.
DUE_RECIPIENTS = (
    f"SELECT {SPOOL_RECIPIENT_COLUMNS} FROM spool_recipient"
    " WHERE message_id = ANY($1::text[]) AND next_attempt <= $2 FOR UPDATE SKIP LOCKED"
)
LEASE = (
    "UPDATE spool_recipient r SET next_attempt = $1, holder = $4"
    " FROM unnest($2::text[], $3::text[]) AS k(message_id, address)"
    " WHERE r.message_id = k.message_id AND r.address = k.address"
)
STATEMENT_CACHE = 256
"""Prepared statements kept per connection: more than the distinct statements the gateway runs."""
MESSAGES = f"SELECT {SPOOL_MESSAGE_COLUMNS} FROM spool_message WHERE id = ANY($1::text[])"


class PostgresConnection:
    """Connection over an asyncpg connection: `?` numbered as `$1…$n`, row counts read from
    the command status."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return affected(await self._conn.execute(numbered(sql), *params))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._conn.executemany(numbered(sql), rows)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        return list(await self._conn.fetch(numbered(sql), *params))

    async def stream(self, sql: str) -> AsyncIterator[Sequence[Any]]:
        """A server-side cursor (it needs the transaction `snapshot()` opens)."""
        async for row in self._conn.cursor(numbered(sql), prefetch=STREAM_CHUNK):
            yield row


class PostgresStore(SpoolSide, ConsentSide, EventSide, ReportSide):
    dialect = POSTGRESQL

    def __init__(self, url: str, *, pool_min: int = 1, pool_max: int = 10) -> None:
        self.url = url
        self._pool_size = (pool_min, pool_max)
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError("store is not open")
        return self._pool

    async def open(self) -> None:
        try:
            # asyncpg prepares each statement once per connection and keeps it in the
            # connection's statement cache (keyed by its text: `numbered()` and the array key
            # lists keep that text fixed); a connection the server dropped is replaced on
            # its next acquire, so the pool outlives a restart or fail-over of PostgreSQL.
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=self._pool_size[0],
                max_size=self._pool_size[1],
                statement_cache_size=STATEMENT_CACHE,
            )
        except (OSError, asyncpg.PostgresError) as exc:
            raise StoreError(f"store.url: cannot connect to PostgreSQL: {exc}") from exc
        async with self.pool.acquire() as conn:
            await migrate(conn)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def ping(self) -> None:
        await self.pool.fetchval("SELECT 1")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield PostgresConnection(conn)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Connection]:
        async with self.pool.acquire() as conn:
            yield PostgresConnection(conn)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Connection]:
        async with (
            self.pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            yield PostgresConnection(conn)

    async def lookup_rows(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        return list(await self.pool.fetch(numbered(sql), *params))

    async def spool_claim(self, now: float, lease: float, limit: int) -> list[SpoolMessage]:
        async with self.pool.acquire() as conn, conn.transaction():
            ids = [r[0] for r in await conn.fetch(CLAIM_MESSAGES, now, limit)]
            if not ids:
                return []
            recipients = await conn.fetch(DUE_RECIPIENTS, ids, now)
            await conn.execute(
                LEASE,
                now + lease,
                [r[0] for r in recipients],
                [r[1] for r in recipients],
                self.holder,
            )
            claimed = list(dict.fromkeys(r[0] for r in recipients))
            messages = await conn.fetch(MESSAGES, claimed) if claimed else []
        return spool_messages(recipients, messages)


async def migrate(conn: asyncpg.Connection) -> None:
    """Apply the PostgreSQL migrations not yet recorded in schema_version, one per transaction."""
    migrations = render("postgresql")
    while True:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)"
            )
            version = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_version")
            if version > len(migrations):
                raise StoreError(f"schema version {version} is newer than this gateway")
            if version == len(migrations):
                return
            await conn.execute(migrations[version])
            await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", version + 1)
