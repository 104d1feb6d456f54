"""Spool: commit, claim and lease, final and deferred outcomes, listing, retry."""

from __future__ import annotations

import asyncio

import pytest

from gateway.store import Store, open_store
from gateway.store.records import (
    DecisionQuery,
    WriteBatch,
)
from tests.store.helpers import claimed, decision, message, update


async def test_claim_returns_messages_with_their_bytes(store: Store) -> None:
    spooled = message("m1", "a@example.org", "b@example.org", data=b"\x00\xffbytes")
    spooled.recipients[1].prefix = b"X-For: b\r\n"
    spooled.recipients[1].data = b"personal\r\n"
    await store.commit(WriteBatch(messages=[spooled]))
    [got] = await store.spool_claim(100.0, 50.0, 10)
    assert (got.id, got.sender, got.data, got.message_id, got.auth_user, got.topic) == (
        "m1",
        "app@example.com",
        b"\x00\xffbytes",
        "<m1@example.com>",
        "billing",
        "receipts",
    )
    by_address = {r.address: r for r in got.recipients}
    assert by_address["a@example.org"].content(got.data) == b"\x00\xffbytes"
    assert by_address["b@example.org"].content(got.data) == b"X-For: b\r\npersonal\r\n"


async def test_claim_leases_due_recipients_only(store: Store) -> None:
    await store.commit(
        WriteBatch(
            messages=[
                message("m1", "a@example.org"),
                message("m2", "b@example.org", due=300.0),
            ]
        )
    )
    assert await claimed(store, 100.0, lease=50.0) == {"m1": ["a@example.org"]}
    assert await claimed(store, 120.0) == {}, "leased until 150"
    assert await claimed(store, 150.0, lease=500.0) == {"m1": ["a@example.org"]}
    assert await claimed(store, 300.0) == {"m2": ["b@example.org"]}


async def test_claim_takes_only_the_due_recipients_of_a_message(store: Store) -> None:
    spooled = message("m1", "a@example.org", "b@example.org")
    spooled.recipients[1].next_attempt = 900.0
    await store.commit(WriteBatch(messages=[spooled]))
    assert await claimed(store, 100.0) == {"m1": ["a@example.org"]}


async def test_claim_limit_counts_messages_earliest_due_first(store: Store) -> None:
    await store.commit(
        WriteBatch(
            messages=[
                message(f"m{n}", "a@example.org", "b@example.org", due=float(100 - n))
                for n in range(5)
            ]
        )
    )
    assert await claimed(store, 100.0, limit=2) == {
        "m4": ["a@example.org", "b@example.org"],
        "m3": ["a@example.org", "b@example.org"],
    }


async def test_concurrent_claimers_take_disjoint_messages(store: Store) -> None:
    await store.commit(WriteBatch(messages=[message(f"m{n}", "a@example.org") for n in range(40)]))
    others = [open_store(store.url) for _ in range(3)]
    await asyncio.gather(*(o.open() for o in others))
    try:
        rounds = await asyncio.gather(
            *(s.spool_claim(100.0, 50.0, 5) for s in [store, *others] for _ in range(3))
        )
    finally:
        await asyncio.gather(*(o.close() for o in others))
    ids = [m.id for claim in rounds for m in claim]
    assert len(ids) == len(set(ids)), "a message was claimed twice"
    assert len(ids) + len(await store.spool_claim(100.0, 50.0, 100)) == 40


async def test_final_statuses_delete_recipients_then_empty_messages(store: Store) -> None:
    await store.commit(
        WriteBatch(
            messages=[
                message("m1", "a@example.org", "b@example.org"),
                message("m2", "c@example.org"),
            ]
        )
    )
    await store.commit(
        WriteBatch(
            updates=[
                update("m1", "a@example.org", "delivered"),
                update("m2", "c@example.org", "bounced"),
            ]
        )
    )
    assert [(e.id, e.recipient) for e in await store.spool_list()] == [("m1", "b@example.org")]
    await store.commit(WriteBatch(updates=[update("m1", "b@example.org", "delivered")]))
    assert await store.spool_list() == []
    assert await store.spool_claim(10_000.0, 50.0, 10) == []


async def test_deferred_update_records_attempt_and_next_try(store: Store) -> None:
    await store.commit(WriteBatch(messages=[message("m1", "a@example.org")]))
    await store.commit(
        WriteBatch(
            updates=[
                update(
                    "m1",
                    "a@example.org",
                    "queued",
                    attempts=2,
                    next_attempt=700.0,
                    reply="451 4.4.1 try later",
                )
            ]
        )
    )
    [entry] = await store.spool_list()
    assert (entry.attempts, entry.next_attempt, entry.last_reply) == (
        2,
        700.0,
        "451 4.4.1 try later",
    )
    [again] = await store.spool_claim(700.0, 50.0, 10)
    assert again.recipients[0].attempts == 2


async def test_commit_is_one_transaction(store: Store) -> None:
    await store.commit(WriteBatch(messages=[message("m1", "a@example.org")]))
    with pytest.raises(Exception):  # noqa: B017 - each engine raises its driver's own error
        await store.commit(
            WriteBatch(
                messages=[message("m2", "b@example.org"), message("m1", "c@example.org")],
                decisions=[decision(1)],
            )
        )
    assert [e.id for e in await store.spool_list()] == ["m1"]
    assert await store.decisions(DecisionQuery()) == []


async def test_spool_list_shows_each_recipient(store: Store) -> None:
    await store.commit(
        WriteBatch(
            messages=[
                message("m2", "b@example.org", "a@example.org", received_at=2.0, data=b"12345"),
                message("m1", "c@example.org", received_at=1.0),
            ]
        )
    )
    entries = await store.spool_list()
    assert [(e.id, e.recipient, e.size) for e in entries] == [
        ("m1", "c@example.org", 6),
        ("m2", "a@example.org", 5),
        ("m2", "b@example.org", 5),
    ]
    assert (entries[0].sender, entries[0].message_id, entries[0].received_at) == (
        "app@example.com",
        "<m1@example.com>",
        1.0,
    )


async def test_release_and_retry_make_recipients_due(store: Store) -> None:
    await store.commit(
        WriteBatch(
            messages=[
                message("m1", "a@example.org", "b@example.org", due=900.0),
                message("m2", "c@example.org", due=900.0),
                message("m3", "d@example.org", due=50.0),
            ]
        )
    )
    assert await store.spool_retry(["m1"], 100.0) == 2
    assert await claimed(store, 100.0) == {
        "m1": ["a@example.org", "b@example.org"],
        "m3": ["d@example.org"],
    }
    assert await store.spool_release(100.0) == 4, "everything leased or later becomes due"
    assert await store.spool_retry([], 100.0) == 4
    assert set(await claimed(store, 100.0)) == {"m1", "m2", "m3"}
