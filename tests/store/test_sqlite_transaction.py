"""SQLite engine: a COMMIT that fails must not leave the writer connection in a transaction.

SQLite can refuse at COMMIT (a deferred constraint, SQLITE_BUSY, a full disk). Before the
fix the transaction stayed open and every later BEGIN IMMEDIATE failed with "cannot start a
transaction within a transaction": the gateway answered 451 to everything until restarted.
"""

from __future__ import annotations

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
