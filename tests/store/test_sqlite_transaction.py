"""SQLite engine: a COMMIT that fails must not leave the writer connection in a transaction.

SQLite can refuse at COMMIT (a deferred constraint, SQLITE_BUSY, a full disk). Before the
fix the transaction stayed open and every later BEGIN IMMEDIATE failed with "cannot start a
transaction within a transaction": the gateway answered 451 to everything until restarted.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from gateway.store.sqlite import SqliteStore

SCHEMA = """
CREATE TABLE parent (id INTEGER PRIMARY KEY);
CREATE TABLE child (
    parent_id INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED
);
"""


async def test_a_failed_commit_is_rolled_back_and_the_next_commit_works(tmp_path: Path) -> None:
    store = SqliteStore(f"sqlite:///{tmp_path / 'store.db'}")
    await store.open()
    try:
        await store.writer.executescript(SCHEMA)
        await store.writer.execute("PRAGMA foreign_keys=ON")
        with pytest.raises(sqlite3.IntegrityError):
            async with store.transaction() as db:
                await db.execute("INSERT INTO child (parent_id) VALUES (?)", (7,))
        assert not store.writer.in_transaction
        async with store.transaction() as db:
            await db.execute("INSERT INTO parent (id) VALUES (?)", (7,))
            await db.execute("INSERT INTO child (parent_id) VALUES (?)", (7,))
        assert await store.writer.execute_fetchall("SELECT count(*) FROM child") == [(1,)]
    finally:
        await store.close()


@pytest.mark.parametrize("where", ["at BEGIN", "inside"])
async def test_a_cancelled_transaction_leaves_the_connection_usable(
    tmp_path: Path, where: str
) -> None:
    """A caller cancelled mid-transaction (a stopping task, a vanished HTTP client): its
    statements still run on aiosqlite's thread, and must not leave a transaction open."""
    store = SqliteStore(f"sqlite:///{tmp_path / 'store.db'}")
    await store.open()
    try:
        await store.writer.executescript(SCHEMA)
        entered = asyncio.Event()

        async def write() -> None:
            async with store.transaction() as db:
                entered.set()
                await db.execute("INSERT INTO parent (id) VALUES (?)", (1,))
                await asyncio.sleep(60)

        task = asyncio.create_task(write())
        await asyncio.sleep(0)  # the task is now waiting on BEGIN IMMEDIATE
        if where == "inside":
            await asyncio.wait_for(entered.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with store.transaction() as db:
            await db.execute("INSERT INTO parent (id) VALUES (?)", (2,))
        assert await store.writer.execute_fetchall("SELECT id FROM parent") == [(2,)]
        assert not store.writer.in_transaction
    finally:
        await store.close()
