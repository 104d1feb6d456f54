"""The events outbox and the provider webhooks' replay memory over any engine
(docs/design.md §8-§9). Events are inserted by `commit(WriteBatch)` with the rows that
caused them; this side claims, records attempts, lists and retries them."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.store.dialect import Engine
from gateway.store.events_sql import (
    DUE_EVENTS,
    EVENT_COLUMNS,
    RECORD_ATTEMPT,
    RETRY_EVENTS,
    SEEN_DELETE,
    SEEN_INSERT,
    SEEN_PURGE,
    SKIP_LOCKED,
    event_from_row,
    list_events_sql,
)
from gateway.store.records import OutboundEvent


class EventSide(Engine):
    async def events_claim(self, now: float, lease: float, limit: int) -> list[OutboundEvent]:
        due = DUE_EVENTS + (SKIP_LOCKED if self.dialect.name == "postgresql" else "")
        async with self.transaction() as db:
            ids = [str(row[0]) for row in await db.fetch(due, (now, limit))]
            if not ids:
                return []
            keys, params = self.dialect.key_list(ids)
            await db.execute(
                f"UPDATE event SET next_attempt = ? WHERE id IN ({keys})", [now + lease, *params]
            )
            rows = await db.fetch(f"SELECT {EVENT_COLUMNS} FROM event WHERE id IN ({keys})", params)
        return [event_from_row(row) for row in rows]

    async def events_record(self, events: Sequence[OutboundEvent]) -> None:
        rows = [
            (e.status, e.attempts, e.next_attempt, e.last_error, e.delivered_at, e.id)
            for e in events
        ]
        if rows:
            async with self.transaction() as db:
                await db.executemany(RECORD_ATTEMPT, rows)

    async def events_list(
        self, status: str | None = None, limit: int = 100, before: tuple[str, str] | None = None
    ) -> list[OutboundEvent]:
        async with self.reading() as db:
            rows = await db.fetch(*list_events_sql(status, limit, before))
        return [event_from_row(row) for row in rows]

    async def events_retry(self, ids: Sequence[str], now: float) -> int:
        sql, params = RETRY_EVENTS, [now]
        if ids:
            keys, keyed = self.dialect.key_list(ids)
            sql, params = f"{sql} AND id IN ({keys})", [now, *keyed]
        async with self.transaction() as db:
            return await db.execute(sql, params)

    async def hook_seen(self, provider: str, key: str, now: float, keep: float) -> bool:
        async with self.transaction() as db:
            await db.execute(SEEN_PURGE, (now - keep,))
            return bool(await db.execute(SEEN_INSERT, (provider, key, now)))

    async def hook_unsee(self, provider: str, key: str) -> None:
        async with self.transaction() as db:
            await db.execute(SEEN_DELETE, (provider, key))
