"""SQLite engine (aiosqlite): the embedded default. WAL, so readers never block the writer."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import aiosqlite

from gateway.store import StoreError
from gateway.store.records import Decision, DecisionQuery, QueueEntry, SpoolMessage, WriteBatch
from gateway.store.schema import render
from gateway.store.sql import (
    SPOOL_LIST,
    SPOOL_MESSAGE_COLUMNS,
    SPOOL_RECIPIENT_COLUMNS,
    count_queries,
    decision_from_row,
    decisions_sql,
    marks,
    queue_entry_from_row,
    spool_messages,
    write_batch_statements,
)
from gateway.store.sqlite_consent import SqliteConsent


def sqlite_path(url: str) -> str:
    """SQLAlchemy form: `sqlite:///rel.db` is relative, `sqlite:////abs.db` absolute."""
    path = url.removeprefix("sqlite:///")
    if not path:
        raise StoreError("store.url: sqlite:/// needs a file path")
    return path


class SqliteStore(SqliteConsent):
    def __init__(self, url: str, *, synchronous: str = "FULL") -> None:
        self.url = url
        self.path = sqlite_path(url)
        self._synchronous = synchronous
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._lookup: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._connect()
        await self._migrate(self._writer)
        self._reader = await self._connect()
        # Per-recipient look-ups are single indexed reads of a few microseconds: cheaper on
        # the event loop than the thread hop aiosqlite would make. WAL readers never wait
        # for the writer.
        self._lookup = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._lookup.execute("PRAGMA query_only = ON")

    async def _connect(self) -> aiosqlite.Connection:
        db = await aiosqlite.connect(self.path, isolation_level=None)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute(f"PRAGMA synchronous={self._synchronous}")
        await db.execute("PRAGMA busy_timeout=10000")
        return db

    async def _migrate(self, db: aiosqlite.Connection) -> None:
        async with db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = row[0] if row else 0
        migrations = render("sqlite")
        if version > len(migrations):
            raise StoreError(f"{self.path}: schema version {version} is newer than this gateway")
        for number, script in enumerate(migrations[version:], start=version + 1):
            await db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")

    async def close(self) -> None:
        for db in (self._reader, self._writer):
            if db is not None:
                await db.close()
        if self._lookup is not None:
            self._lookup.close()
        self._reader = self._writer = self._lookup = None

    @property
    def lookup(self) -> sqlite3.Connection:
        if self._lookup is None:
            raise StoreError("store is not open")
        return self._lookup

    @property
    def writer(self) -> aiosqlite.Connection:
        if self._writer is None:
            raise StoreError("store is not open")
        return self._writer

    @property
    def reader(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise StoreError("store is not open")
        return self._reader

    async def ping(self) -> None:
        async with self.reader.execute("SELECT 1") as cur:
            await cur.fetchone()

    async def commit(self, batch: WriteBatch) -> None:
        async with self._transaction() as db:
            for sql, rows in write_batch_statements(batch):
                await db.executemany(sql, rows)

    async def spool_claim(self, now: float, lease: float, limit: int) -> list[SpoolMessage]:
        async with self._transaction() as db:
            async with db.execute(
                f"SELECT {SPOOL_RECIPIENT_COLUMNS} FROM spool_recipient WHERE message_id IN"
                " (SELECT message_id FROM spool_recipient WHERE next_attempt <= ?"
                " GROUP BY message_id ORDER BY min(next_attempt) LIMIT ?) AND next_attempt <= ?",
                (now, limit, now),
            ) as cur:
                recipients = list(await cur.fetchall())
            ids = list(dict.fromkeys(r[0] for r in recipients))
            if not ids:
                return []
            await db.execute(
                f"UPDATE spool_recipient SET next_attempt = ? WHERE message_id IN"
                f" ({marks(len(ids))}) AND next_attempt <= ?",
                (now + lease, *ids, now),
            )
            async with db.execute(
                f"SELECT {SPOOL_MESSAGE_COLUMNS} FROM spool_message"
                f" WHERE id IN ({marks(len(ids))})",
                ids,
            ) as cur:
                messages = list(await cur.fetchall())
        return spool_messages(recipients, messages)

    async def spool_release(self, now: float) -> int:
        async with self._lock:
            cur = await self.writer.execute(
                "UPDATE spool_recipient SET next_attempt = ? WHERE next_attempt > ?", (now, now)
            )
            return cur.rowcount

    async def spool_list(self) -> list[QueueEntry]:
        return [queue_entry_from_row(r) for r in await self._rows(SPOOL_LIST)]

    async def spool_retry(self, ids: Sequence[str], now: float) -> int:
        async with self._lock:
            if ids:
                cur = await self.writer.execute(
                    "UPDATE spool_recipient SET next_attempt = ?"
                    f" WHERE message_id IN ({marks(len(ids))})",
                    (now, *ids),
                )
            else:
                cur = await self.writer.execute(
                    "UPDATE spool_recipient SET next_attempt = ?", (now,)
                )
            return cur.rowcount

    async def decisions(self, query: DecisionQuery) -> list[tuple[int, Decision]]:
        rows = await self._rows(*decisions_sql(query, "?"))
        return [(row[0], decision_from_row(row[1:])) for row in rows]

    async def decision_counts(self, since: str | None = None) -> dict[str, list[tuple[str, int]]]:
        return {
            column: [(str(value), int(count)) for value, count in await self._rows(
                sql, [since] if since else []
            )]
            for column, sql in count_queries(since, "?").items()
        }
