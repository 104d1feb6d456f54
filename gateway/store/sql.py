"""SQL of the spool and the decision log, both engines: statements with `?` placeholders,
filters, row mapping. The consent side is in consent_sql.py, the engines' facts look-up in
facts_sql.py."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.addresses import AddressError, canonical
from gateway.store.consent_sql import INSERT_SUPPRESSION
from gateway.store.dialect import marks
from gateway.store.events_sql import INSERT_EVENT, event_row
from gateway.store.records import (
    DECISION_FIELDS,
    Decision,
    DecisionQuery,
    QueueEntry,
    SpoolMessage,
    SpoolRecipient,
    WriteBatch,
)

DECISION_COLUMNS: tuple[str, ...] = (
    *DECISION_FIELDS,
    "queue_id",
    "detail",
    "chain_n",
    "chain_prev",
    "chain_hash",
)
"""The chain columns (store/chain.py) are read back into a Decision but never public."""

_EQUAL_FILTERS = ("action", "reason", "recipient", "purpose", "jurisdiction", "sender", "phase")


def decision_where(query: DecisionQuery) -> tuple[str, list[Any]]:
    """WHERE clause and its parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    for name in _EQUAL_FILTERS:
        value = getattr(query, name)
        if value:
            clauses.append(f"{name} = ?")
            params.append(recipient_key(value) if name == "recipient" else value)
    if query.message_id:
        clauses.append("(message_id = ? OR queue_id = ?)")
        params += [query.message_id, query.message_id]
    for clause, value in (
        ("time >= ?", query.since),
        ("time < ?", query.until),
        ("seq > ?", query.after),
        ("seq < ?", query.before),
    ):
        if value is not None and value != "":
            clauses.append(clause)
            params.append(value)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def recipient_key(asked: str) -> str:
    """Decision rows name a recipient by canonical() (casefold + IDNA), or an erased one by
    its hash: any spelling of the address finds its rows, a hash is taken as it is."""
    try:
        return canonical(asked)
    except AddressError:
        return asked


COUNTED = ("action", "reason", "purpose", "jurisdiction", "phase")


def count_queries(since: str | None) -> dict[str, str]:
    """`gatekeeper stats`: decisions counted by each of COUNTED, most frequent first."""
    where = "WHERE time >= ?" if since else ""
    return {
        column: f"SELECT {column}, count(*) FROM decision {where} GROUP BY {column}"
        f" ORDER BY count(*) DESC, {column}"
        for column in COUNTED
    }


def decision_from_row(row: Sequence[Any]) -> Decision:
    values = dict(zip(DECISION_COLUMNS, row, strict=True))
    return Decision(**values)


def queue_entry_from_row(row: Sequence[Any]) -> QueueEntry:
    return QueueEntry(*row)


# -- spool and decisions: statements and parameter rows both engines run --

FINAL_STATUSES = ("delivered", "bounced")

INSERT_SPOOL_MESSAGE = (
    "INSERT INTO spool_message (id, received_at, sender, message_id, session_id,"
    " client, auth_user, purpose, topic, data) VALUES (?,?,?,?,?,?,?,?,?,?)"
)
# The same row with room for the bytes, written afterwards in pieces (SQLite blob I/O).
INSERT_SPOOL_MESSAGE_SIZED = INSERT_SPOOL_MESSAGE.replace("?)", "zeroblob(?))")
INSERT_SPOOL_RECIPIENT = (
    "INSERT INTO spool_recipient (message_id, address, prefix, data, attempts,"
    " next_attempt, last_reply, holder) VALUES (?,?,?,?,?,?,?,?)"
)
DELETE_SPOOL_RECIPIENT = "DELETE FROM spool_recipient WHERE message_id = ? AND address = ?"
DELETE_EMPTY_MESSAGE = (
    "DELETE FROM spool_message WHERE id = ? AND NOT EXISTS"
    " (SELECT 1 FROM spool_recipient WHERE message_id = spool_message.id)"
)
# A deferred recipient is nobody's until its retry is due: any instance may take it then.
UPDATE_SPOOL_RECIPIENT = (
    "UPDATE spool_recipient SET attempts = ?, next_attempt = ?, last_reply = ?, holder = ''"
    " WHERE message_id = ? AND address = ?"
)
# ON CONFLICT: a commit whose acknowledgement was lost (the database restarted after COMMIT)
# is tried again by the writer with the same decision rows; those already written are kept,
# not a fault that would fail every later batch.
INSERT_DECISION = (
    f"INSERT INTO decision ({', '.join(DECISION_COLUMNS)}) VALUES ({marks(len(DECISION_COLUMNS))})"
    " ON CONFLICT DO NOTHING"
)
RENEW_LEASE = (
    "UPDATE spool_recipient SET next_attempt = ? WHERE holder = ? AND message_id IN ({keys})"
    " RETURNING message_id"
)
RELEASE_HELD = "UPDATE spool_recipient SET next_attempt = ?, holder = '' WHERE holder = ?"
HEARTBEAT = (
    "INSERT INTO instance (name, started_at, seen_at, smtp, http, backlog) VALUES (?,?,?,?,?,?)"
    " ON CONFLICT (name) DO UPDATE SET started_at = excluded.started_at,"
    " seen_at = excluded.seen_at, smtp = excluded.smtp, http = excluded.http,"
    " backlog = excluded.backlog"
)
# An instance holds what its SMTP worker processes (`NAME/wN`, smtp.processes) hold.
INSTANCES = (
    "SELECT i.name, i.started_at, i.seen_at, i.smtp, i.http, i.backlog,"
    " (SELECT count(*) FROM spool_recipient r WHERE r.holder = i.name"
    " OR substr(r.holder, 1, length(i.name) + 2) = i.name || '/w')"
    " FROM instance i ORDER BY i.name"
)
UNHELD = (
    "SELECT coalesce(sum(CASE WHEN next_attempt <= ? THEN 1 ELSE 0 END), 0),"
    " coalesce(sum(CASE WHEN next_attempt > ? AND holder = '' THEN 1 ELSE 0 END), 0),"
    " coalesce(sum(CASE WHEN next_attempt <= ? AND holder <> '' THEN 1 ELSE 0 END), 0)"
    " FROM spool_recipient"
)
SPOOL_LIST = (
    "SELECT m.id, m.received_at, m.sender, r.address, r.attempts, r.next_attempt,"
    " r.last_reply, length(m.data), m.message_id FROM spool_recipient r"
    " JOIN spool_message m ON m.id = r.message_id ORDER BY m.received_at, r.address"
)
# /metrics and /ops/queue: counts from the next_attempt index alone (no row is read), the
# oldest from the received_at index, and keyset pages in that index's order.
SPOOL_COUNTS = (
    "SELECT count(*), coalesce(sum(CASE WHEN next_attempt <= ? THEN 1 ELSE 0 END), 0)"
    " FROM spool_recipient"
)
SPOOL_OLDEST = "SELECT min(received_at) FROM spool_message"
SPOOL_PAGE = (
    "SELECT m.id, m.received_at, m.sender, r.address, r.attempts, r.next_attempt,"
    " r.last_reply, length(m.data), m.message_id FROM spool_message m"
    " JOIN spool_recipient r ON r.message_id = m.id {after}"
    " ORDER BY m.received_at, m.id, r.address LIMIT ?"
)
SPOOL_PAGE_AFTER = "WHERE (m.received_at, m.id, r.address) > (?, ?, ?)"
# A write the readiness probe makes: cheap, and through the same transaction path as a commit.
WRITE_PROBE = (
    "INSERT INTO meta (name, value) VALUES ('ready_probe', ?)"
    " ON CONFLICT (name) DO UPDATE SET value = excluded.value"
)
SPOOL_MESSAGE_COLUMNS = (
    "id, received_at, sender, data, message_id, session_id, client, auth_user, purpose, topic"
)
SPOOL_RECIPIENT_COLUMNS = "message_id, address, prefix, data, attempts, next_attempt, last_reply"


def written_in_pieces(batch: WriteBatch, pieces_from: int | None) -> list[SpoolMessage]:
    """Messages of at least `pieces_from` bytes: bound whole, SQLite would copy each twice
    (the bound value, then the record it builds), so they are written in pieces (issue 11)."""
    if pieces_from is None:
        return []
    return [m for m in batch.messages if len(m.head) + len(m.data) >= pieces_from]


Statements = list[tuple[str, list[tuple[Any, ...]]]]
"""(statement, rows) in the order one commit runs them."""


def write_batch_statements(
    batch: WriteBatch, holder: str = "", pieces_from: int | None = None
) -> Statements:
    """(statement, rows) in the order one commit runs them; statements with no rows left out.
    New recipients are held by `holder` (this instance delivers them from memory). Messages
    `written_in_pieces` get a row with room for their bytes, which the engine then writes.

    Final recipients are deleted before the empty-message sweep so a message goes with its
    last recipient.
    """
    final = [(u.message_id, u.address) for u in batch.updates if u.status in FINAL_STATUSES]
    steps: Statements = [
        (INSERT_SPOOL_MESSAGE, _message_rows(batch, pieces_from)),
        (
            INSERT_SPOOL_MESSAGE_SIZED,
            [
                _message_row(m, len(m.head) + len(m.data))
                for m in written_in_pieces(batch, pieces_from)
            ],
        ),
        (INSERT_SPOOL_RECIPIENT, _recipient_rows(batch, holder)),
        (DELETE_SPOOL_RECIPIENT, final),
        (DELETE_EMPTY_MESSAGE, [(mid,) for mid in dict.fromkeys(mid for mid, _ in final)]),
        (
            UPDATE_SPOOL_RECIPIENT,
            [
                (u.attempts, u.next_attempt, u.last_reply, u.message_id, u.address)
                for u in batch.updates
                if u.status not in FINAL_STATUSES
            ],
        ),
        (
            INSERT_DECISION,
            [tuple(getattr(d, c) for c in DECISION_COLUMNS) for d in batch.decisions],
        ),
        (
            INSERT_SUPPRESSION,
            [(s.address, s.scope, s.reason, s.source, s.created_at) for s in batch.suppressions],
        ),
        (INSERT_EVENT, [event_row(e) for e in batch.events]),
    ]
    return [(sql, rows) for sql, rows in steps if rows]


def _message_rows(batch: WriteBatch, pieces_from: int | None) -> list[tuple[Any, ...]]:
    large = {m.id for m in written_in_pieces(batch, pieces_from)}
    return [_message_row(m, m.stored()) for m in batch.messages if m.id not in large]


def _message_row(m: SpoolMessage, data: bytes | int) -> tuple[Any, ...]:
    return (
        m.id,
        m.received_at,
        m.sender,
        m.message_id,
        m.session_id,
        m.client,
        m.auth_user,
        m.purpose,
        m.topic,
        data,
    )


def _recipient_rows(batch: WriteBatch, holder: str) -> list[tuple[Any, ...]]:
    return [
        (
            m.id,
            r.address,
            r.prefix,
            m.stored_copy(r),
            r.attempts,
            r.next_attempt,
            r.last_reply,
            holder,
        )
        for m in batch.messages
        for r in m.recipients
    ]


def spool_messages(
    recipient_rows: Sequence[Sequence[Any]], message_rows: Sequence[Sequence[Any]]
) -> list[SpoolMessage]:
    """SpoolMessages from rows of SPOOL_RECIPIENT_COLUMNS and SPOOL_MESSAGE_COLUMNS."""
    by_message: dict[str, list[SpoolRecipient]] = {}
    for mid, address, prefix, data, attempts, next_attempt, last_reply in recipient_rows:
        by_message.setdefault(mid, []).append(
            SpoolRecipient(address, prefix or b"", data, attempts, next_attempt, last_reply)
        )
    return [
        SpoolMessage(r[0], r[1], r[2], r[3], by_message[r[0]], *r[4:])
        for r in message_rows
        if r[0] in by_message
    ]


def decisions_sql(query: DecisionQuery) -> tuple[str, list[Any]]:
    """The whole decisions query: filters, keyset order, and the limit as last parameter."""
    where, params = decision_where(query)
    order = "DESC" if query.newest_first else "ASC"
    return (
        f"SELECT seq, {', '.join(DECISION_COLUMNS)} FROM decision {where}"
        f" ORDER BY seq {order} LIMIT ?",
        [*params, query.limit],
    )
