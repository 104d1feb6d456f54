"""The decision log: filters, every field kept, keyset paging, counts."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.store import Store
from gateway.store.records import (
    Decision,
    DecisionQuery,
    WriteBatch,
)
from tests.store.helpers import decision


@pytest.fixture
async def decided(store: Store) -> list[Decision]:
    rows = [
        decision(1),
        decision(2, action="deny", reason="no-consent", basis="", recipient="x@example.org"),
        decision(3, purpose="transactional", jurisdiction="cz", sender="other@example.com"),
        decision(4, phase="delivery", reason="delivered", queue_id="q1"),
        decision(5, action="deny", reason="unsubscribed", basis="", recipient="x@example.org"),
    ]
    await store.commit(WriteBatch(decisions=rows))
    return rows


async def found(store: Store, **query: Any) -> list[str]:
    return [d.time[-7:-5] for _, d in await store.decisions(DecisionQuery(**query))]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, ["01", "02", "03", "04", "05"]),
        ({"action": "deny"}, ["02", "05"]),
        ({"reason": "no-consent"}, ["02"]),
        ({"recipient": "x@example.org"}, ["02", "05"]),
        ({"purpose": "transactional"}, ["03"]),
        ({"jurisdiction": "cz"}, ["03"]),
        ({"sender": "other@example.com"}, ["03"]),
        ({"phase": "delivery"}, ["04"]),
        ({"message_id": "q1"}, ["01", "04"]),
        ({"message_id": "m2@example.com"}, ["02"]),
        ({"since": "2024-01-01T00:00:02.000Z"}, ["02", "03", "04", "05"]),
        ({"until": "2024-01-01T00:00:02.000Z"}, ["01"]),
        ({"action": "deny", "recipient": "x@example.org", "reason": "unsubscribed"}, ["05"]),
        ({"limit": 2}, ["01", "02"]),
        ({"newest_first": True, "limit": 2}, ["05", "04"]),
    ],
)
async def test_decision_filters(
    store: Store, decided: list[Decision], query: dict[str, Any], expected: list[str]
) -> None:
    assert await found(store, **query) == expected


async def test_decisions_keep_every_field(store: Store, decided: list[Decision]) -> None:
    [(_, got)] = await store.decisions(DecisionQuery(reason="no-consent"))
    assert got == decided[1]


async def test_decision_keyset_paging(store: Store, decided: list[Decision]) -> None:
    pages: list[list[int]] = []
    after: int | None = None
    while page := await store.decisions(DecisionQuery(after=after, limit=2)):
        pages.append([seq for seq, _ in page])
        after = page[-1][0]
    assert [len(p) for p in pages] == [2, 2, 1]
    seqs = [s for p in pages for s in p]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    back = await store.decisions(DecisionQuery(before=seqs[3], newest_first=True, limit=2))
    assert [seq for seq, _ in back] == [seqs[2], seqs[1]]


async def test_decision_counts(store: Store, decided: list[Decision]) -> None:
    counts = await store.decision_counts()
    assert counts["action"] == [("allow", 3), ("deny", 2)]
    assert counts["phase"] == [("rcpt", 4), ("delivery", 1)]
    recent = await store.decision_counts(since="2024-01-01T00:00:04.000Z")
    assert recent["reason"] == [("delivered", 1), ("unsubscribed", 1)]
