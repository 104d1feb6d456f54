"""The events outbox and the webhooks' replay memory on both engines (docs/design.md §9):
events go in with the batch that causes them, are claimed by lease, recorded, listed and
retried; a provider request id is taken once."""

from __future__ import annotations

import time

from gateway.store import Store
from gateway.store.records import Decision, OutboundEvent, WriteBatch, iso_now


def event(number: int, due: float = 0.0) -> OutboundEvent:
    return OutboundEvent(
        id=f"msg_{number}",
        created_at=iso_now(),
        endpoint="http://127.0.0.1:9/events",
        type="refused",
        payload='{"type":"refused"}',
        next_attempt=due,
    )


async def test_events_commit_with_their_decision_and_are_leased(store: Store) -> None:
    decision = Decision(time=iso_now(), phase="rcpt", action="deny", recipient="a@b.example")
    await store.commit(WriteBatch(decisions=[decision], events=[event(1), event(2, due=1e12)]))
    now = time.time()
    (claimed,) = await store.events_claim(now, lease=60, limit=10)
    assert claimed.id == "msg_1"
    assert await store.events_claim(now, lease=60, limit=10) == []  # leased
    claimed.status, claimed.attempts, claimed.last_error = "pending", 1, "HTTP 500"
    claimed.next_attempt = now + 5
    await store.events_record([claimed])
    (listed,) = [e for e in await store.events_list("pending") if e.id == "msg_1"]
    assert (listed.attempts, listed.last_error) == (1, "HTTP 500")
    assert await store.events_retry(["msg_1"], now) == 1
    (again,) = await store.events_claim(now, lease=60, limit=10)
    again.status, again.delivered_at = "delivered", iso_now()
    await store.events_record([again])
    assert [e.id for e in await store.events_list("delivered")] == ["msg_1"]
    assert await store.events_retry([], now) == 1  # only the one not delivered


async def test_a_request_id_is_taken_once(store: Store) -> None:
    now = time.time()
    assert await store.hook_seen("mailgun", "token-1", now, keep=600)
    assert not await store.hook_seen("mailgun", "token-1", now, keep=600)
    assert await store.hook_seen("sendgrid", "token-1", now, keep=600)
    await store.hook_unsee("mailgun", "token-1")
    assert await store.hook_seen("mailgun", "token-1", now, keep=600)
    # past the window the memory is purged (the timestamp check refuses it by then)
    assert await store.hook_seen("mailgun", "token-1", now + 601, keep=600)
