"""SQLite engine (aiosqlite): the embedded default. WAL, so readers never block the writer."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from gateway.store import StoreError
from gateway.store.records import (
    Decision,
    DecisionQuery,
    QueueEntry,
    SpoolMessage,
    SpoolRecipient,
    WriteBatch,
)
from gateway.store.schema import render
from gateway.store.sql import (
    DECISION_COLUMNS,
    count_queries,
    decision_from_row,
    decision_where,
    queue_entry_from_row,
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

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        async with self.reader.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def commit(self, batch: WriteBatch) -> None:
        async with self._lock:
            db = self.writer
            await db.execute("BEGIN IMMEDIATE")
            try:
                await self._write(db, batch)
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            await db.execute("COMMIT")

    async def _write(self, db: aiosqlite.Connection, batch: WriteBatch) -> None:
        for sql, rows in write_batch_statements(batch):
            await db.executemany(sql, rows)

    async def spool_claim(self, now: float, lease: float, limit: int) -> list[SpoolMessage]:
        async with self._lock:
            db = self.writer
            await db.execute("BEGIN IMMEDIATE")
            try:
                messages = await self._claim(db, now, lease, limit)
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            await db.execute("COMMIT")
        return messages

    async def _claim(
        self, db: aiosqlite.Connection, now: float, lease: float, limit: int
    ) -> list[SpoolMessage]:
        async with db.execute(
            "SELECT message_id, address, prefix, data, attempts, next_attempt, last_reply"
            " FROM spool_recipient WHERE message_id IN (SELECT DISTINCT message_id"
            " FROM spool_recipient WHERE next_attempt <= ? ORDER BY next_attempt LIMIT ?)"
            " AND next_attempt <= ?",
            (now, limit, now),
        ) as cur:
            rows = list(await cur.fetchall())
        if not rows:
            return []
        by_message: dict[str, list[SpoolRecipient]] = {}
        for mid, address, prefix, data, attempts, next_attempt, last_reply in rows:
            by_message.setdefault(mid, []).append(
                SpoolRecipient(address, prefix or b"", data, attempts, next_attempt, last_reply)
            )
        ids = list(by_message)
        marks = ",".join("?" * len(ids))
        await db.execute(
            f"UPDATE spool_recipient SET next_attempt = ? WHERE message_id IN ({marks})"
            " AND next_attempt <= ?",
            (now + lease, *ids, now),
        )
        async with db.execute(
            "SELECT id, received_at, sender, data, message_id, session_id, client, auth_user,"
            f" purpose, topic FROM spool_message WHERE id IN ({marks})",
            ids,
        ) as cur:
            found = list(await cur.fetchall())
        return [SpoolMessage(r[0], r[1], r[2], r[3], by_message[r[0]], *r[4:]) for r in found]

    async def spool_release(self, now: float) -> int:
        async with self._lock:
            cur = await self.writer.execute(
                "UPDATE spool_recipient SET next_attempt = ? WHERE next_attempt > ?", (now, now)
            )
            return cur.rowcount

    async def spool_list(self) -> list[QueueEntry]:
        rows = await self._fetchall(
            "SELECT m.id, m.received_at, m.sender, r.address, r.attempts, r.next_attempt,"
            " r.last_reply, length(m.data), m.message_id FROM spool_recipient r"
            " JOIN spool_message m ON m.id = r.message_id ORDER BY m.received_at, r.address"
        )
        return [queue_entry_from_row(r) for r in rows]

    async def spool_retry(self, ids: Sequence[str], now: float) -> int:
        async with self._lock:
            if ids:
                marks = ",".join("?" * len(ids))
                cur = await self.writer.execute(
                    f"UPDATE spool_recipient SET next_attempt = ? WHERE message_id IN ({marks})",
                    (now, *ids),
                )
            else:
                cur = await self.writer.execute(
                    "UPDATE spool_recipient SET next_attempt = ?", (now,)
                )
            return cur.rowcount

    async def decisions(self, query: DecisionQuery) -> list[tuple[int, Decision]]:
        where, params = decision_where(query, "?")
        order = "DESC" if query.newest_first else "ASC"
        rows = await self._fetchall(
            f"SELECT seq, {', '.join(DECISION_COLUMNS)} FROM decision {where}"
            f" ORDER BY seq {order} LIMIT ?",
            [*params, query.limit],
        )
        return [(row[0], decision_from_row(row[1:])) for row in rows]

    async def decision_counts(self, since: str | None = None) -> dict[str, list[tuple[str, int]]]:
        return {
            column: [(str(value), int(count)) for value, count in await self._fetchall(
                sql, [since] if since else []
            )]
            for column, sql in count_queries(since, "?").items()
        }
