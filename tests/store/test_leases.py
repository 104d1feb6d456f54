"""Leases of several instances on one store (docs/fleet.md), on both engines: who holds a
recipient, renewal only of one's own, release at a clean stop, the instance heartbeats."""

from __future__ import annotations

from gateway.store import Store
from gateway.store.records import InstanceRow, WriteBatch
from tests.store.helpers import claimed, message, update


async def test_spooled_and_claimed_recipients_are_held_by_their_instance(store: Store) -> None:
    store.holder = "gw/a"
    await store.commit(WriteBatch(messages=[message("m1", "a@example.org", due=100.0)]))
    rows, unheld = await store.instances(50.0)
    assert (rows, unheld.due, unheld.retrying) == ([], 0, 0)

    store.holder = "gw/b"  # a's lease ran out: b takes the message over
    assert await claimed(store, 150.0, lease=50.0) == {"m1": ["a@example.org"]}
    await store.heartbeat(InstanceRow("gw/b", "2026-01-01T00:00:00.000Z", 150.0))
    [b], _ = await store.instances(150.0)
    assert (b.name, b.held) == ("gw/b", 1)

    store.holder = "gw/a"  # a, back, cannot renew what b holds now
    assert await store.spool_renew(["m1"], 500.0) == set()
    store.holder = "gw/b"
    assert await store.spool_renew(["m1", "gone"], 500.0) == {"m1"}
    assert await claimed(store, 400.0) == {}, "renewed: not due before 500"
    [entry] = await store.spool_list()
    assert entry.next_attempt == 500.0


async def test_deferred_recipient_is_nobodys_and_release_frees_held(store: Store) -> None:
    store.holder = "gw/a"
    await store.commit(
        WriteBatch(messages=[message("m1", "a@example.org"), message("m2", "b@example.org")])
    )
    await store.commit(WriteBatch(updates=[update("m1", "a@example.org", "deferred")]))
    _, unheld = await store.instances(200.0)
    assert (unheld.due, unheld.retrying, unheld.expired) == (1, 1, 1)
    assert await store.spool_release_held(300.0) == 1  # m2 only: m1 is nobody's
    assert await claimed(store, 300.0) == {"m2": ["b@example.org"]}
