"""SQL pieces both engines share: column lists, filters, row mapping."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.store.records import DECISION_FIELDS, Decision, DecisionQuery, QueueEntry

DECISION_COLUMNS: tuple[str, ...] = (*DECISION_FIELDS, "queue_id", "detail")

_EQUAL_FILTERS = ("action", "reason", "recipient", "purpose", "jurisdiction", "sender", "phase")


def decision_where(query: DecisionQuery, mark: str) -> tuple[str, list[Any]]:
    """WHERE clause and parameters; `mark` is "?" (SQLite) or "$" (PostgreSQL, numbered)."""
    clauses: list[str] = []
    params: list[Any] = []

    def add(sql: str, *values: Any) -> None:
        for value in values:
            params.append(value)
            placeholder = "?" if mark == "?" else f"${len(params)}"
            sql = sql.replace("{}", placeholder, 1)
        clauses.append(sql)

    for name in _EQUAL_FILTERS:
        value = getattr(query, name)
        if value:
            add(f"{name} = {{}}", value)
    if query.message_id:
        add("(message_id = {} OR queue_id = {})", query.message_id, query.message_id)
    if query.since:
        add("time >= {}", query.since)
    if query.until:
        add("time < {}", query.until)
    if query.after is not None:
        add("seq > {}", query.after)
    if query.before is not None:
        add("seq < {}", query.before)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def decision_from_row(row: Sequence[Any]) -> Decision:
    values = dict(zip(DECISION_COLUMNS, row, strict=True))
    return Decision(**values)


def queue_entry_from_row(row: Sequence[Any]) -> QueueEntry:
    return QueueEntry(*row)
