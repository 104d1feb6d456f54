"""gateway.pipeline.writer: group commit on a real SQLite store.

The store is wrapped only to watch it (and to hold a commit open where a test needs
sessions to pile up behind it); every write goes to the real database file.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.pipeline import writer as writer_module
from gateway.pipeline.diskspace import DiskSpace
from gateway.pipeline.replies import DISK_LOW
from gateway.pipeline.writer import Writer
from gateway.store import Store, open_store
from gateway.store.records import (
    Decision,
    DecisionQuery,
    SpoolMessage,
    SpoolRecipient,
    WriteBatch,
)
from gateway.store.sqlite import JOURNAL_SIZE_LIMIT
from tests.support.waiting import wait_until


class WatchedStore:
    """The real store, with each commit's size and end noted; `hold` keeps commits waiting."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.commits: list[int] = []
        """Messages per commit, noted once the commit returned."""
        self.entered = asyncio.Event()
        self.hold: asyncio.Event | None = None

    def __getattr__(self, name: str) -> Any:  # the rest of the store, as it is
        return getattr(self.store, name)

    async def commit(self, batch: WriteBatch) -> None:
        self.entered.set()
        if self.hold is not None:
            await self.hold.wait()
        await self.store.commit(batch)
        self.commits.append(len(batch.messages))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[tuple[Store, Path]]:
    path = tmp_path / "writer.db"
    store = open_store(f"sqlite:///{path}")
    await store.open()
    yield store, path
    await store.close()


def message(mid: str) -> SpoolMessage:
    return SpoolMessage(
        id=mid,
        received_at=1.0,
        sender="app@example.com",
        data=b"Subject: x\r\n\r\nbody\r\n",
        recipients=[SpoolRecipient(f"{mid}@example.org", next_attempt=1e12)],
    )


def decision(n: int) -> Decision:
    return Decision(
        time=f"2024-01-01T00:00:{n:02d}Z",
        phase="data",
        action="allow",
        recipient=f"r{n}@example.org",
    )


async def spooled(store: Store) -> list[str]:
    return sorted({entry.id for entry in await store.spool_list()})


async def test_sessions_waiting_behind_a_commit_share_the_next_one(
    db: tuple[Store, Path],
) -> None:
    store, _ = db
    watched = WatchedStore(store)
    watched.hold = asyncio.Event()
    writer = Writer(watched)  # type: ignore[arg-type]  # the store's commit, watched
    writer.start()
    first = asyncio.create_task(writer.spool(message("m0")))
    await watched.entered.wait()
    # while m0's commit is open, five more sessions hand in their messages
    rest = [asyncio.create_task(writer.spool(message(f"m{n}"))) for n in range(1, 6)]
    await asyncio.sleep(0)
    watched.hold.set()
    await asyncio.gather(first, *rest)
    assert watched.commits == [1, 5]
    assert await spooled(store) == [f"m{n}" for n in range(6)]
    await writer.stop()


async def test_spool_returns_only_after_the_commit_returned(db: tuple[Store, Path]) -> None:
    store, _ = db
    watched = WatchedStore(store)
    watched.hold = asyncio.Event()
    writer = Writer(watched)  # type: ignore[arg-type]
    writer.start()
    session = asyncio.create_task(writer.spool(message("m1")))
    await watched.entered.wait()
    assert not session.done()  # the commit holding m1 has not returned: no 250 yet
    watched.hold.set()
    await session
    assert watched.commits == [1]  # noted when store.commit returned, before spool did
    assert await spooled(store) == ["m1"]
    await writer.stop()


async def test_a_store_fault_fails_the_waiting_sessions_and_the_writer_goes_on(
    db: tuple[Store, Path],
) -> None:
    store, path = db
    with sqlite3.connect(path) as raw:  # a real fault: the database refuses new messages
        raw.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON spool_message"
            " BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    writer = Writer(store)
    writer.start()
    writer.record([decision(1)])
    with pytest.raises(Exception, match="refused"):
        await writer.spool(message("m1"))
    with sqlite3.connect(path) as raw:
        raw.execute("DROP TRIGGER refuse")
    await writer.spool(message("m2"))  # the same writer, after the store recovered
    await writer.flush()
    assert await spooled(store) == ["m2"]  # m1 was refused with its session's 451
    # the decision row of the failed batch was kept for the next commit
    assert [d.recipient for _, d in await store.decisions(DecisionQuery())] == ["r1@example.org"]
    await writer.stop()


async def test_stop_flushes_what_was_handed_in(db: tuple[Store, Path]) -> None:
    store, _ = db
    writer = Writer(store)
    writer.start()
    writer.record([decision(n) for n in range(3)])
    writer.spool_later(message("report"))
    await writer.stop()
    assert len(await store.decisions(DecisionQuery())) == 3
    assert await spooled(store) == ["report"]


async def test_a_failed_commit_is_remembered_until_the_store_commits_again(
    db: tuple[Store, Path],
) -> None:
    """/readyz reads `failure`: set by the failed commit, cleared by the writer's own probe
    once the store can write again, without any traffic."""
    store, path = db
    refuse = [
        f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table}"
        " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        for table in ("spool_message", "meta")
    ]
    with sqlite3.connect(path) as raw:
        for sql in refuse:
            raw.execute(sql)
    writer = Writer(store)
    writer.start()
    with pytest.raises(Exception, match="disk full"):
        await writer.spool(message("m1"))
    assert "disk full" in writer.failure
    with sqlite3.connect(path) as raw:
        for table in ("spool_message", "meta"):
            raw.execute(f"DROP TRIGGER refuse_{table}")
    await wait_until(lambda: not writer.failure)
    await writer.stop()


async def test_storage_refusal_follows_the_free_space_floor(
    db: tuple[Store, Path], tmp_path: Path
) -> None:
    store, _ = db
    free = DiskSpace(str(tmp_path), 0).free()
    assert Writer(store, disk=DiskSpace(str(tmp_path), free * 2)).storage_refusal() == DISK_LOW
    assert DISK_LOW.startswith("452 4.3.1 ")
    assert Writer(store, disk=DiskSpace(str(tmp_path), 1)).storage_refusal() is None
    assert Writer(store).storage_refusal() is None
    assert DiskSpace.for_store("postgresql://db/gk", 1) is None
    assert DiskSpace.for_store(f"sqlite:///{tmp_path}/x.db", 0) is None


async def test_sqlite_bounds_its_wal(db: tuple[Store, Path]) -> None:
    _, path = db
    store = open_store(f"sqlite:///{path}")
    await store.open()
    try:
        async with store.reader.execute("PRAGMA journal_size_limit") as cur:  # type: ignore[attr-defined]
            assert await cur.fetchone() == (JOURNAL_SIZE_LIMIT,)
    finally:
        await store.close()


async def test_rows_nobody_waits_for_ride_in_the_next_spool_commit(
    db: tuple[Store, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A RCPT's decision row, then the message's spool write: one commit, one fsync, not
    the row's own commit with the spool write queued behind it. A background task told of
    the commit (`committed`, as the erasure check after a delivery is) does not hurry it."""
    monkeypatch.setattr(writer_module, "RIDE", 60.0)  # however slow the machine
    store, _ = db
    watched = WatchedStore(store)
    writer = Writer(watched)  # type: ignore[arg-type]
    writer.start()
    writer.record([decision(1)])
    told = asyncio.create_task(writer.committed())
    await asyncio.sleep(0.05)  # time enough for a commit of the row alone, were there one
    await writer.spool(message("m1"))
    await told
    assert watched.commits == [1]
    assert [d.recipient for _, d in await store.decisions(DecisionQuery())] == ["r1@example.org"]
    await writer.stop()


async def test_rows_alone_are_committed_within_the_ride(db: tuple[Store, Path]) -> None:
    store, _ = db
    watched = WatchedStore(store)
    writer = Writer(watched)  # type: ignore[arg-type]
    writer.start()
    writer.record([decision(1)])
    await asyncio.wait_for(writer.committed(), 5)  # told once they are, however it came
    assert watched.commits == [0]
    assert [d.recipient for _, d in await store.decisions(DecisionQuery())] == ["r1@example.org"]
    await writer.committed()  # nothing handed in since: the next (empty) turn tells it
    await writer.stop()
