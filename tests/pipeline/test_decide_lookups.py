"""gateway.pipeline.decide: the look-ups asked in one turn of the event loop (concurrent
sessions' RCPTs) go to the store as one call; each asker gets its own recipients' facts, or
the failure, as if it had asked alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from gateway.addresses import erased_key
from gateway.pipeline.decide import Decider
from gateway.policy import RecipientFacts, load_policies
from gateway.policy.loader import default_policy_dir
from gateway.store import Store, open_store
from gateway.store.records import SuppressionEntry
from tests.support.config import make_config
from tests.support.seed import GRANTED, seed_contact

KEY = b"k" * 32


class Counted:
    """The store's look-up with its calls written down."""

    def __init__(self, store: Store) -> None:
        self.calls: list[list[str]] = []
        self._look_up = store.recipient_facts

    async def __call__(
        self, addresses: Sequence[str], suppressed_only: Sequence[str] = ()
    ) -> dict[str, RecipientFacts]:
        self.calls.append(list(addresses))
        return await self._look_up(addresses, suppressed_only)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'facts.db'}")
    await opened.open()
    yield opened
    await opened.close()


def decider(store: Store, tmp_path: Path) -> Decider:
    config = make_config(tmp_path, "outbox:" + str(tmp_path / "outbox"))
    return Decider(store, load_policies(default_policy_dir()), config, KEY)


async def test_lookups_of_one_turn_share_one_store_call(store: Store, tmp_path: Path) -> None:
    await seed_contact(store, "a@example.de", "newsletter", country="de")
    gone = erased_key(KEY, "c@example.com")  # forgotten: known by its hash alone
    await store.suppress(
        [
            SuppressionEntry("b@example.com", "all", "unsubscribed", "test", GRANTED),
            SuppressionEntry(gone, "all", "erased", "forget", GRANTED),
        ]
    )
    counted = Counted(store)
    setattr(store, "recipient_facts", counted)  # noqa: B010  # the real look-up, counted
    decide = decider(store, tmp_path)
    a, b, c = await asyncio.gather(
        decide.facts(["a@example.de"]),
        decide.facts(["B@Example.com", "new@example.com"]),
        decide.facts(["c@example.com"]),
    )
    assert counted.calls == [["a@example.de", "b@example.com", "new@example.com", "c@example.com"]]
    assert (a["a@example.de"].country, [x.topic for x in a["a@example.de"].consents]) == (
        "de",
        ["newsletter"],
    )
    assert list(b) == ["B@Example.com", "new@example.com"]
    assert [s.reason for s in b["B@Example.com"].suppressions] == ["unsubscribed"]
    assert b["new@example.com"] == RecipientFacts(address="new@example.com")
    assert [s.reason for s in c["c@example.com"].suppressions] == ["erased"]
    # the next turn asks again
    await decide.facts(["a@example.de"])
    assert len(counted.calls) == 2


async def test_a_failed_lookup_fails_each_asker(store: Store, tmp_path: Path) -> None:
    decide = decider(store, tmp_path)
    await store.close()  # every look-up now fails
    results: list[Any] = await asyncio.gather(
        decide.facts(["a@example.com"]), decide.facts(["b@example.com"]), return_exceptions=True
    )
    assert [type(r).__name__ for r in results] == ["StoreError", "StoreError"]
    await store.open()


async def test_an_asker_that_went_away_leaves_the_others_their_answer(
    store: Store, tmp_path: Path
) -> None:
    await seed_contact(store, "b@example.com", "newsletter")
    decide = decider(store, tmp_path)
    gone = asyncio.create_task(decide.facts(["a@example.com"]))
    kept = asyncio.create_task(decide.facts(["b@example.com"]))
    await asyncio.sleep(0)  # both have asked; the store call has not run yet
    gone.cancel()
    facts = await kept
    assert facts["b@example.com"].known
    with pytest.raises(asyncio.CancelledError):
        await gone
