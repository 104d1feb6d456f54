"""The spool read without loading it (issue 11): counts and the oldest arrival for /metrics,
keyset pages for /ops/queue, the readiness write probe; on both engines."""

from __future__ import annotations

from gateway.store import Store
from gateway.store.records import SpoolMessage, SpoolRecipient, WriteBatch


def message(n: int, recipients: int, due: float) -> SpoolMessage:
    return SpoolMessage(
        id=f"m{n}",
        received_at=100.0 + n,
        sender="app@example.com",
        data=b"Subject: x\r\n\r\nbody\r\n",
        recipients=[
            SpoolRecipient(f"r{i}@example.org", next_attempt=due) for i in range(recipients)
        ],
    )


async def test_counts_pages_and_probe(store: Store) -> None:
    empty = await store.spool_counts(1000.0)
    assert (empty.recipients, empty.due, empty.oldest) == (0, 0, None)
    batch = WriteBatch()
    batch.messages += [message(1, 2, 10.0), message(2, 3, 5000.0), message(3, 1, 10.0)]
    await store.commit(batch)
    counts = await store.spool_counts(1000.0)
    assert (counts.recipients, counts.due, counts.oldest) == (6, 3, 101.0)
    pages, after = [], None
    while True:
        page = await store.spool_page(after, 4)
        if not page:
            break
        pages.append([(e.id, e.recipient) for e in page])
        after = (page[-1].received_at, page[-1].id, page[-1].recipient)
    assert [len(p) for p in pages] == [4, 2]
    flat = [row for p in pages for row in p]
    assert flat == sorted(flat, key=lambda r: (r[0], r[1])) and len(set(flat)) == 6
    await store.write_probe()
    await store.write_probe()  # an upsert: repeatable
