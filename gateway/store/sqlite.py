"""SQLite engine (aiosqlite): the embedded default. WAL, so readers never block the writer.

Its part of the dialect layer: one writer connection behind a lock (BEGIN IMMEDIATE per
transaction), one reader, the synchronous look-up connection for recipient facts, and a
spool claim that needs no row locks because one process owns the file.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from gateway.store.consent import ConsentSide
from gateway.store.dialect import SQLITE, STREAM_CHUNK, Connection, marks
from gateway.store.events import EventSide
from gateway.store.interface import StoreError
from gateway.store.records import SpoolMessage
from gateway.store.reports import ReportSide
from gateway.store.schema import render
from gateway.store.spool import SpoolSide
from gateway.store.sql import (
    SPOOL_MESSAGE_COLUMNS,
    SPOOL_RECIPIENT_COLUMNS,
    Statements,
    spool_messages,
)
from gateway.store.write_turn import WriteTurn

DUE_RECIPIENTS = (
    f"SELECT {SPOOL_RECIPIENT_COLUMNS} FROM spool_recipient WHERE message_id IN"
    " (SELECT message_id FROM spool_recipient WHERE next_attempt <= ?"
    " GROUP BY message_id ORDER BY min(next_attempt) LIMIT ?) AND next_attempt <= ?"
)

log = logging.getLogger(__name__)


PIECES_FROM = 256 * 1024
"""Messages from this size on are written and read by blob I/O; below it binding is cheaper."""
READ_PIECE = 256 * 1024
"""Bytes of a large message read at a time (blob I/O) when it is claimed."""
CLAIMED_MESSAGE_COLUMNS = ", ".join(
    f"CASE WHEN length(data) < {PIECES_FROM} THEN data END" if column == "data" else column
    for column in SPOOL_MESSAGE_COLUMNS.split(", ")
)
"""A large message's bytes are left to `_read_spool_data` (SQLite's length() of a blob
does not read it)."""
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
"""Bytes the WAL file is cut back to after a checkpoint: without it, one burst leaves a WAL
as large as the burst on disk for good (SQLite's journal_size_limit, default unbounded)."""


def sqlite_path(url: str) -> str:
    """SQLAlchemy form: `sqlite:///rel.db` is relative, `sqlite:////abs.db` absolute."""
    path = url.removeprefix("sqlite:///")
    if not path:
        raise StoreError("store.url: sqlite:/// needs a file path")
    return path


class SqliteConnection:
    """Connection over an aiosqlite connection; SQLite takes `?` as it is."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        async with self._db.execute(sql, params) as cur:
            return cur.rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._db.executemany(sql, rows)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Sequence[Any]]:
        async with self._db.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def stream(self, sql: str) -> AsyncIterator[Sequence[Any]]:
        async with self._db.execute(sql) as cur:
            while rows := await cur.fetchmany(STREAM_CHUNK):
                for row in rows:
                    yield row

    async def claimed_messages(self, ids: Sequence[str]) -> list[Sequence[Any]]:
        """Rows of SPOOL_MESSAGE_COLUMNS; a large message's bytes read by blob I/O into the
        `bytes` it is kept as. Fetched whole, SQLite would first assemble the value in a
        buffer of its own, then Python copy it: twice the message (issue 11)."""
        rows = await self.fetch(
            f"SELECT {CLAIMED_MESSAGE_COLUMNS}, rowid FROM spool_message"
            f" WHERE id IN ({marks(len(ids))})",
            ids,
        )
        claimed: list[Sequence[Any]] = []
        for *columns, rowid in rows:
            if columns[3] is None:
                columns[3] = await self._db._execute(_read_spool_data, self._db._conn, rowid)
            claimed.append(columns)
        return claimed


def _write_spool_data(conn: sqlite3.Connection, message: SpoolMessage) -> None:
    """head + data into the zeroblob row INSERT_SPOOL_MESSAGE_SIZED made, straight into the
    pages."""
    [(rowid,)] = conn.execute("SELECT rowid FROM spool_message WHERE id = ?", (message.id,))
    with conn.blobopen("spool_message", "data", rowid) as blob:
        blob.write(message.head)
        blob.write(message.data)


def _commit_all(
    conn: sqlite3.Connection,
    turn: WriteTurn,
    statements: Statements,
    pieces: list[SpoolMessage],
) -> None:
    """One write batch, on the writer's thread: committed whole or rolled back whole."""
    with turn.held():
        _commit_held(conn, statements, pieces)


def _commit_held(
    conn: sqlite3.Connection, statements: Statements, pieces: list[SpoolMessage]
) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for sql, rows in statements:
            conn.executemany(sql, rows)
        for message in pieces:
            _write_spool_data(conn, message)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # a failed COMMIT (busy, disk full) leaves it open
            conn.execute("ROLLBACK")
        raise


def _read_spool_data(conn: sqlite3.Connection, rowid: int) -> bytes:
    """A piece at a time into a BytesIO, whose `getvalue()` is the bytes it grew (no copy)."""
    buffer = io.BytesIO()
    with conn.blobopen("spool_message", "data", rowid, readonly=True) as blob:
        while piece := blob.read(READ_PIECE):
            buffer.write(piece)
    return buffer.getvalue()


class SqliteStore(SpoolSide, ConsentSide, EventSide, ReportSide):
    dialect = SQLITE
    pieces_from = PIECES_FROM

    def __init__(self, url: str, *, synchronous: str = "FULL") -> None:
        self.url = url
        self.path = sqlite_path(url)
        self._synchronous = synchronous
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._lookup: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()
        self._turn = WriteTurn(self.path)

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._connect()
        self._turn.open()
        await self._migrate(self._writer)
        self._reader = await self._connect()
        # Per-recipient look-ups are single indexed reads of a few microseconds: cheaper on
        # the event loop than the thread hop aiosqlite would make (docs/performance.md).
        # WAL readers never wait for the writer.
        self._lookup = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._lookup.execute("PRAGMA query_only = ON")

    async def _connect(self) -> aiosqlite.Connection:
        db = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute(f"PRAGMA synchronous={self._synchronous}")
            await db.execute("PRAGMA busy_timeout=10000")
            await db.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
        except BaseException:
            # Not yet held by the store, so close() would miss it: its thread (not a
            # daemon) would keep the process alive after the fault was reported.
            await db.close()
            raise
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
        self._turn.close()
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

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """The writer connection inside BEGIN IMMEDIATE .. COMMIT (ROLLBACK on any error)."""
        async with self._lock, self._turn:
            db = self.writer
            try:
                await db.execute("BEGIN IMMEDIATE")
                yield SqliteConnection(db)
                await db.execute("COMMIT")
            except BaseException:
                await asyncio.shield(_roll_back(db))
                raise

    async def run_batch(self, statements: Statements, pieces: list[SpoolMessage]) -> None:
        """The whole transaction in one hop to the writer's thread: statement by statement
        each would be a hop of its own (a future, a thread wake-up, a loop wake-up), several
        per commit on the path of every message's 250. aiosqlite has no blob API either:
        `_execute` runs `_commit_all` on its connection's thread."""
        async with self._lock:
            db = self.writer
            await db._execute(_commit_all, db._conn, self._turn, statements, pieces)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[Connection]:
        yield SqliteConnection(self.reader)

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[Connection]:
        """A connection of its own in one read transaction (WAL: its first read fixes what
        it sees; writers go on meanwhile)."""
        db = await self._connect()
        try:
            await db.execute("BEGIN")
            yield SqliteConnection(db)
            await db.execute("COMMIT")
        finally:
            await db.close()

    async def lookup_rows(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        return self.lookup.execute(sql, params).fetchall()

    async def ping(self) -> None:
        async with self.reader.execute("SELECT 1") as cur:
            await cur.fetchone()

    async def spool_claim(self, now: float, lease: float, limit: int) -> list[SpoolMessage]:
        async with self.transaction() as db:
            recipients = await db.fetch(DUE_RECIPIENTS, (now, limit, now))
            ids = list(dict.fromkeys(r[0] for r in recipients))
            if not ids:
                return []
            await db.execute(
                f"UPDATE spool_recipient SET next_attempt = ?, holder = ? WHERE message_id IN"
                f" ({marks(len(ids))}) AND next_attempt <= ?",
                (now + lease, self.holder, *ids, now),
            )
            assert isinstance(db, SqliteConnection)
            messages = await db.claimed_messages(ids)
        return spool_messages(recipients, messages)


async def _roll_back(db: aiosqlite.Connection) -> None:
    """End whatever transaction a failure or a cancellation left open on `db`.

    A failed COMMIT (busy, disk full) leaves the transaction open, and a cancelled caller
    leaves its statements queued on aiosqlite's thread, where they still run: BEGIN after
    the caller is gone. Either way every later BEGIN would fail for good. aiosqlite runs a
    connection's statements in order, so a no-op first lets the queued ones finish.
    """
    try:
        await db.execute("SELECT 1")
        if db.in_transaction:
            await db.execute("ROLLBACK")
    except Exception as exc:  # the original error is what the caller must see
        log.warning("rollback after a failed transaction failed: %s", exc)
