"""The events outbox in keyset pages on both engines (the dashboard's /ops/events): newest
first by (created_at, id), each page starting after the last row of the one before, events
with the same created_at split by id, none shown twice or skipped."""

from __future__ import annotations

from gateway.store import Store
from gateway.store.records import OutboundEvent, WriteBatch

SAME_MOMENT = "2030-01-01T00:00:00.000Z"


def event(number: int, created_at: str, status: str = "pending") -> OutboundEvent:
    return OutboundEvent(
        f"msg_{number:02d}", created_at, "http://127.0.0.1:9/e", "refused", "{}", status=status
    )


async def test_pages_cover_the_outbox_once(store: Store) -> None:
    events = [event(n, SAME_MOMENT) for n in range(5)]
    events += [event(n, f"2030-01-01T00:00:0{n - 4}.000Z", "failed") for n in range(5, 9)]
    await store.commit(WriteBatch(events=events))
    seen: list[str] = []
    before: tuple[str, str] | None = None
    for _ in range(10):  # bounded: 9 events in pages of 2
        page = await store.events_list(limit=2, before=before)
        if not page:
            break
        seen += [e.id for e in page]
        before = (page[-1].created_at, page[-1].id)
    expected = sorted(events, key=lambda e: (e.created_at, e.id), reverse=True)
    assert seen == [e.id for e in expected]
    (failed,) = await store.events_list("failed", limit=1, before=("2030-01-01T00:00:04.000Z", ""))
    assert failed.id == "msg_07"
