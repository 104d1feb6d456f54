"""SQL of the events outbox and of the provider webhooks' replay memory, both engines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.store.dialect import marks
from gateway.store.records import OutboundEvent

EVENT_COLUMNS = (
    "id, created_at, endpoint, type, payload, status, attempts, next_attempt, last_error,"
    " delivered_at"
)
INSERT_EVENT = f"INSERT INTO event ({EVENT_COLUMNS}) VALUES ({marks(10)})"
DUE_EVENTS = (
    "SELECT id FROM event WHERE status = 'pending' AND next_attempt <= ?"
    " ORDER BY next_attempt LIMIT ?"
)
SKIP_LOCKED = " FOR UPDATE SKIP LOCKED"
"""PostgreSQL: instances sharing the store claim disjoint events instead of waiting."""
RECORD_ATTEMPT = (
    "UPDATE event SET status = ?, attempts = ?, next_attempt = ?, last_error = ?,"
    " delivered_at = ? WHERE id = ?"
)
RETRY_EVENTS = "UPDATE event SET status = 'pending', next_attempt = ? WHERE status <> 'delivered'"
SEEN_PURGE = "DELETE FROM hook_seen WHERE seen_at < ?"
SEEN_INSERT = (
    "INSERT INTO hook_seen (provider, key, seen_at) VALUES (?,?,?)"
    " ON CONFLICT (provider, key) DO NOTHING"
)
SEEN_DELETE = "DELETE FROM hook_seen WHERE provider = ? AND key = ?"


def event_row(event: OutboundEvent) -> tuple[Any, ...]:
    return (
        event.id,
        event.created_at,
        event.endpoint,
        event.type,
        event.payload,
        event.status,
        event.attempts,
        event.next_attempt,
        event.last_error,
        event.delivered_at,
    )


def event_from_row(row: Sequence[Any]) -> OutboundEvent:
    return OutboundEvent(*row)


def list_events_sql(
    status: str | None, limit: int, before: tuple[str, str] | None = None
) -> tuple[str, list[Any]]:
    """Newest first; `before` (created_at, id) is a keyset cursor: the events older than it,
    one range of the event_created index whatever the outbox's size."""
    clauses, params = (["status = ?"], [status]) if status else ([], [])
    if before is not None:
        clauses.append("(created_at < ? OR (created_at = ? AND id < ?))")
        params += [before[0], before[0], before[1]]
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return (
        f"SELECT {EVENT_COLUMNS} FROM event {where} ORDER BY created_at DESC, id DESC LIMIT ?",
        [*params, limit],
    )
