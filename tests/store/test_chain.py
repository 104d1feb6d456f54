"""The decision log's hash chain on both engines: rows written through the real writer,
then altered, deleted and inserted with raw SQL from the test; `check_chains` (what
`gatekeeper log verify` runs) names each, and passes untouched, after forget and after
purge."""

from __future__ import annotations

import sqlite3
from typing import Any

import asyncpg
import pytest

from gateway.addresses import ERASED as PREFIX
from gateway.addresses import erased_key
from gateway.cli.log_chain import check_chains
from gateway.pipeline.writer import Writer
from gateway.store import Store
from gateway.store.chain import Anchor, Link, subject
from gateway.store.consent_sql import scrub
from gateway.store.records import DecisionQuery
from gateway.store.sqlite import sqlite_path
from tests.store.helpers import decision

KEY = b"k" * 32
INSTANCE = "mx1/a"


async def write(store: Store, *rows: dict[str, str], instance: str = INSTANCE) -> None:
    """Decisions through the writer the gateway runs: it links them to the chain."""
    writer = Writer(store)
    writer.chain_key = KEY
    writer.start()
    try:
        records = [decision(i + 1, **fields) for i, fields in enumerate(rows)]
        for record in records:
            record.instance = instance
        writer.record(records)
        await writer.flush()
    finally:
        await writer.stop()


async def raw(store: Store, sql: str, *params: Any) -> None:
    """SQL straight on the database, as someone editing the log would run it."""
    if store.url.startswith("sqlite"):
        with sqlite3.connect(sqlite_path(store.url)) as db:
            db.execute(sql, params)
        return
    numbered = sql
    for n in range(1, len(params) + 1):
        numbered = numbered.replace("?", f"${n}", 1)
    conn = await asyncpg.connect(store.url)
    try:
        await conn.execute(numbered, *params)
    finally:
        await conn.close()


async def seqs(store: Store) -> list[int]:
    return [seq for seq, _ in await store.decisions(DecisionQuery())]


async def five(store: Store) -> list[int]:
    await write(store, *({"detail": f"row {i}"} for i in range(5)))
    return await seqs(store)


def test_subject_is_what_forget_writes() -> None:
    assert subject(KEY, "Bob@Example.ORG") == erased_key(KEY, "bob@example.org")
    assert subject(KEY, erased_key(KEY, "bob@example.org")).startswith(PREFIX)
    assert subject(KEY, "") == "" and subject(KEY, "not an address") == "not an address"


async def test_an_untouched_log_verifies(store: Store) -> None:
    await five(store)
    await write(store, {}, {}, instance="mx2/b")  # a second instance, its own chain
    finding, checks = await check_chains(store, KEY)
    assert finding is None
    assert {c.instance: c.n for c in checks} == {INSTANCE: 5, "mx2/b": 2}


async def test_a_second_writer_continues_the_chain_from_the_store(store: Store) -> None:
    await five(store)
    await write(store, {}, {})
    assert (await check_chains(store, KEY))[0] is None
    assert (await store.chain_head(INSTANCE))[0] == 7


async def test_an_altered_row_is_named(store: Store) -> None:
    rows = await five(store)
    await raw(store, "UPDATE decision SET action = 'accept' WHERE seq = ?", rows[2])
    finding, _ = await check_chains(store, KEY)
    assert finding is not None
    assert (finding.problem, finding.seq, finding.instance) == ("altered", rows[2], INSTANCE)


async def test_a_rewritten_hash_breaks_the_next_link(store: Store) -> None:
    rows = await five(store)
    await raw(store, "UPDATE decision SET chain_hash = ? WHERE seq = ?", "f" * 64, rows[1])
    finding, _ = await check_chains(store, KEY)
    assert finding is not None and finding.seq == rows[1] and finding.problem == "altered"


async def test_a_deleted_row_is_named(store: Store) -> None:
    rows = await five(store)
    await raw(store, "DELETE FROM decision WHERE seq = ?", rows[2])
    finding, _ = await check_chains(store, KEY)
    assert finding is not None
    assert (finding.problem, finding.seq) == ("removed", rows[3])
    assert "position 3 missing" in finding.detail


async def test_inserted_rows_are_named(store: Store) -> None:
    rows = await five(store)
    copy = (
        "INSERT INTO decision (id, time, instance, phase, action, recipient, chain_n,"
        " chain_prev, chain_hash) SELECT 'forged', time, instance, phase, 'allow',"
        " 'x@example.org', chain_n, chain_prev, chain_hash FROM decision WHERE seq = ?"
    )
    await raw(store, copy, rows[4])
    finding, _ = await check_chains(store, KEY)
    assert finding is not None and finding.problem == "inserted" and finding.id == "forged"


async def test_a_row_without_a_link_is_named(store: Store) -> None:
    await five(store)
    await raw(
        store,
        "INSERT INTO decision (id, time, instance, phase, action, recipient)"
        " VALUES ('bare', '2024-01-01T00:00:09.000Z', ?, 'rcpt', 'allow', 'y@example.org')",
        INSTANCE,
    )
    finding, _ = await check_chains(store, KEY)
    assert finding is not None and (finding.problem, finding.id) == ("inserted", "bare")


async def test_forget_keeps_the_chain(store: Store) -> None:
    await write(
        store,
        {"recipient": "bob@example.org", "detail": "550 <Bob@Example.org> unknown"},
        {"sender": "BOB@example.org", "detail": "from bob@example.org to r2@example.org"},
        {},
    )
    hashed = erased_key(KEY, "bob@example.org")
    touched = await store.forget("bob@example.org", hashed)
    assert touched["decision"] == 1 and touched["decision_sender"] == 1
    details = [d.detail for _, d in await store.decisions(DecisionQuery())]
    assert "bob" not in " ".join(details).lower()
    assert (await check_chains(store, KEY))[0] is None
    await write(store, {"recipient": "carl@example.org"})
    assert (await check_chains(store, KEY))[0] is None


async def test_purge_leaves_an_anchor_the_rest_links_to(store: Store) -> None:
    await write(store, *({"time": f"2024-01-01T00:00:0{i}.000Z"} for i in range(5)))
    counts = await store.purge("2024-01-01T00:00:03.000Z", "2000-01-01", "2024-06-01T00:00:00Z")
    assert counts["decisions"] == 3
    [anchor] = await store.chain_anchors(INSTANCE)
    assert (anchor.kind, anchor.n) == ("purge", 3)
    assert (await check_chains(store, KEY))[0] is None
    await store.purge("2025-01-01", "2000-01-01", "2025-01-01T00:00:00Z")  # every row
    await write(store, {"time": "2025-02-01T00:00:00.000Z"})  # resumes from the anchor
    finding, checks = await check_chains(store, KEY)
    assert finding is None and checks[0].n == 6


async def test_rows_cut_from_the_end_are_named_by_a_checkpoint(store: Store) -> None:
    rows = await five(store)
    n, head = await store.chain_head(INSTANCE)
    await store.save_anchor(Anchor(INSTANCE, n, head, "2024-06-01T00:00:00Z", "checkpoint"))
    await raw(store, "DELETE FROM decision WHERE seq = ?", rows[4])
    finding, _ = await check_chains(store, KEY)
    assert finding is not None and finding.problem == "removed" and finding.seq is None


async def test_since_checks_from_the_first_row_at_that_time(store: Store) -> None:
    rows = await five(store)
    await raw(store, "UPDATE decision SET action = 'accept' WHERE seq = ?", rows[0])
    assert (await check_chains(store, KEY, since="2024-01-01T00:00:03.000Z"))[0] is None
    assert (await check_chains(store, KEY))[0] is not None


@pytest.mark.parametrize("detail", ["", "no address", "a@b.example and <c@d.example>."])
def test_link_hashes_the_same_after_scrubbing(detail: str) -> None:
    first, second = decision(1, detail=detail, id="d1"), decision(1, detail=detail, id="d1")
    Link(KEY).link(first)
    second.detail = scrub(detail, "a@b.example", erased_key(KEY, "a@b.example"))
    Link(KEY).link(second)
    assert first.chain_hash == second.chain_hash
