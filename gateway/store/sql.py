"""SQL pieces both engines share: column lists, filters, row mapping."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from gateway.policy.facts import Consent, RecipientFacts, Relationship, Suppression
from gateway.store.records import (
    DECISION_FIELDS,
    ConsentEvent,
    ContactRow,
    ContactView,
    Decision,
    DecisionQuery,
    QueueEntry,
    SpoolMessage,
    SpoolRecipient,
    SuppressionEntry,
    WriteBatch,
)

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


COUNTED = ("action", "reason", "purpose", "jurisdiction", "phase")


def count_queries(since: str | None, mark: str) -> dict[str, str]:
    """`gatekeeper stats`: decisions counted by each of COUNTED, most frequent first."""
    where = f"WHERE time >= {'?' if mark == '?' else '$1'}" if since else ""
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


def numbered(sql: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, …` (no `?` appears in our SQL otherwise)."""
    parts = sql.split("?")
    return parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], start=1))


def marks(count: int) -> str:
    return ",".join("?" * count)


# -- contacts import: one statement per table, run with executemany over a chunk of rows --

UPSERT_CONTACT = (
    "INSERT INTO contact (address, original, country, source, created_at, last_engaged_at)"
    " VALUES (?,?,?,?,?,?) ON CONFLICT (address) DO UPDATE SET original = excluded.original,"
    " country = COALESCE(excluded.country, contact.country),"
    " source = COALESCE(excluded.source, contact.source),"
    " last_engaged_at = COALESCE(excluded.last_engaged_at, contact.last_engaged_at)"
)
UPSERT_CONSENT = (
    "INSERT INTO consent (address, topic, granted_at, double_opt_in_at, source, proof)"
    " VALUES (?,?,?,?,?,?) ON CONFLICT (address, topic) DO UPDATE SET"
    " granted_at = excluded.granted_at,"
    " double_opt_in_at = COALESCE(excluded.double_opt_in_at, consent.double_opt_in_at),"
    " source = COALESCE(excluded.source, consent.source),"
    " proof = COALESCE(excluded.proof, consent.proof),"
    # a grant newer than the withdrawal re-grants; an old grant re-imported does not
    " withdrawn_at = CASE WHEN consent.withdrawn_at < excluded.granted_at THEN NULL"
    " ELSE consent.withdrawn_at END"
)
INSERT_EVENT = (
    "INSERT INTO consent_event (address, topic, kind, at, source, proof) VALUES (?,?,?,?,?,?)"
    " ON CONFLICT (address, topic, kind, at) DO NOTHING"
)
UPSERT_RELATIONSHIP = (
    "INSERT INTO relationship (address, kind, last_at, categories) VALUES (?,?,?,?)"
    " ON CONFLICT (address, kind) DO UPDATE SET last_at = excluded.last_at,"
    " categories = excluded.categories"
)
INSERT_SUPPRESSION = (
    "INSERT INTO suppression (address, scope, reason, source, created_at) VALUES (?,?,?,?,?)"
    " ON CONFLICT (address, scope, reason) DO NOTHING"
)

# -- consent events: how each kind moves the consent's current state --

ENSURE_CONTACT = (
    "INSERT INTO contact (address, original, source, created_at) VALUES (?,?,?,?)"
    " ON CONFLICT (address) DO NOTHING"
)

CONSENT_STATE: dict[str, str] = {
    "grant": (
        "INSERT INTO consent (address, topic, granted_at, source, proof) VALUES (?,?,?,?,?)"
        " ON CONFLICT (address, topic) DO UPDATE SET granted_at = excluded.granted_at,"
        " withdrawn_at = NULL, source = excluded.source, proof = excluded.proof"
    ),
    "confirm": (
        "UPDATE consent SET double_opt_in_at = ? WHERE address = ? AND topic = ?"
    ),
    "withdraw": "UPDATE consent SET withdrawn_at = ? WHERE address = ? AND topic = ?",
}
CONSENT_STATE["resubscribe"] = CONSENT_STATE["grant"]
CONSENT_STATE["unsubscribe"] = CONSENT_STATE["withdraw"]
EVENT_KINDS = ("grant", "confirm", "withdraw", "object", "unsubscribe", "resubscribe")


def consent_state_params(event: Any) -> tuple[str, tuple[Any, ...]] | None:
    sql = CONSENT_STATE.get(event.kind)
    if sql is None:
        return None
    if sql.startswith("INSERT"):
        return sql, (event.address, event.topic, event.at, event.source, event.proof)
    return sql, (event.at, event.address, event.topic)


def contact_row_params(row: ContactRow, now: str) -> dict[str, list[tuple[Any, ...]]]:
    """The rows each import statement gets for one CSV row."""
    source = row.source or "import"
    params: dict[str, list[tuple[Any, ...]]] = {
        UPSERT_CONTACT: [(row.address, row.original, row.country, row.source, now,
                          row.last_engaged_at)],
        UPSERT_CONSENT: [], INSERT_EVENT: [], UPSERT_RELATIONSHIP: [], INSERT_SUPPRESSION: [],
    }
    proof = row.consent_proof or None
    for topic in row.consent_topics:
        params[UPSERT_CONSENT].append(
            (row.address, topic, row.consent_at, row.double_opt_in_at, source, proof)
        )
        params[INSERT_EVENT].append((row.address, topic, "grant", row.consent_at, source,
                                     proof or ""))
        if row.double_opt_in_at:
            params[INSERT_EVENT].append((row.address, topic, "confirm", row.double_opt_in_at,
                                         source, ""))
    if row.customer_kind and row.last_purchase_at:
        params[UPSERT_RELATIONSHIP].append(
            (row.address, row.customer_kind, row.last_purchase_at,
             ";".join(row.purchase_categories))
        )
    for scope in row.objected_scopes:
        params[INSERT_SUPPRESSION].append((row.address, scope, "objected", "import", now))
    return params


IMPORT_STATEMENTS = (UPSERT_CONTACT, UPSERT_CONSENT, INSERT_EVENT, UPSERT_RELATIONSHIP,
                     INSERT_SUPPRESSION)

# -- facts for the policy engine --

FACTS_UNION = " UNION ALL ".join(
    # One round trip for all four tables: rows tagged with their table, padded to 6 columns.
    # {0} lists the addresses, {1} them and the keys found only in the suppression list
    # (erased addresses' hashes): each search left out saves index pages on every look-up.
    f"SELECT '{name}', {columns} FROM {name} WHERE address IN ({{{keys}}})"
    for name, columns, keys in (
        ("contact", "address, country, source, created_at, last_engaged_at, NULL", 0),
        ("consent", "address, topic, granted_at, double_opt_in_at, withdrawn_at, proof", 0),
        ("relationship", "address, kind, last_at, categories, NULL, NULL", 0),
        ("suppression", "address, scope, reason, NULL, NULL, NULL", 1),
    )
)
_FACT_WIDTH = {"contact": 5, "consent": 6, "relationship": 4, "suppression": 3}


def facts_keys(
    addresses: Sequence[str], suppressed_only: Sequence[str]
) -> tuple[list[str], list[str]]:
    """FACTS_UNION's two key lists, without repeats: {0} the addresses, {1} them and the
    keys asked of the suppression list alone."""
    unique = list(dict.fromkeys(addresses))
    return unique, list(dict.fromkeys([*unique, *suppressed_only]))


def split_facts_union(rows: Sequence[Sequence[Any]]) -> dict[str, list[Sequence[Any]]]:
    tables: dict[str, list[Sequence[Any]]] = {name: [] for name in _FACT_WIDTH}
    for row in rows:
        tables[row[0]].append(row[1 : 1 + _FACT_WIDTH[row[0]]])
    return tables


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build_facts(rows: dict[str, list[Sequence[Any]]]) -> dict[str, RecipientFacts]:
    consents: dict[str, list[Consent]] = defaultdict(list)
    for address, topic, granted, confirmed, withdrawn, proof in rows["consent"]:
        consents[address].append(Consent(topic, parse_time(granted), parse_time(confirmed),
                                         parse_time(withdrawn), bool(proof)))
    relationships: dict[str, list[Relationship]] = defaultdict(list)
    for address, kind, last_at, categories in rows["relationship"]:
        last = parse_time(last_at)
        assert last is not None
        relationships[address].append(
            Relationship(kind, last, frozenset(c for c in categories.split(";") if c))
        )
    suppressions: dict[str, list[Suppression]] = defaultdict(list)
    for address, scope, reason in rows["suppression"]:
        suppressions[address].append(Suppression(scope, reason))
    contacts = {r[0]: r for r in rows["contact"]}
    facts = {}
    for address in set(contacts) | set(suppressions) | set(consents) | set(relationships):
        contact = contacts.get(address)
        facts[address] = RecipientFacts(
            address=address,
            country=contact[1].lower() if contact and contact[1] else None,
            known=contact is not None,
            source=contact[2] if contact else None,
            created_at=parse_time(contact[3]) if contact else None,
            last_engaged_at=parse_time(contact[4]) if contact else None,
            consents=tuple(consents[address]),
            relationships=tuple(relationships[address]),
            suppressions=tuple(suppressions[address]),
        )
    return facts


# -- spool and decisions: statements and parameter rows both engines run --

FINAL_STATUSES = ("delivered", "bounced")

INSERT_SPOOL_MESSAGE = (
    "INSERT INTO spool_message (id, received_at, sender, message_id, session_id,"
    " client, auth_user, purpose, topic, data) VALUES (?,?,?,?,?,?,?,?,?,?)"
)
INSERT_SPOOL_RECIPIENT = (
    "INSERT INTO spool_recipient (message_id, address, prefix, data, attempts,"
    " next_attempt, last_reply) VALUES (?,?,?,?,?,?,?)"
)
DELETE_SPOOL_RECIPIENT = "DELETE FROM spool_recipient WHERE message_id = ? AND address = ?"
DELETE_EMPTY_MESSAGE = (
    "DELETE FROM spool_message WHERE id = ? AND NOT EXISTS"
    " (SELECT 1 FROM spool_recipient WHERE message_id = spool_message.id)"
)
UPDATE_SPOOL_RECIPIENT = (
    "UPDATE spool_recipient SET attempts = ?, next_attempt = ?, last_reply = ?"
    " WHERE message_id = ? AND address = ?"
)
INSERT_DECISION = (
    f"INSERT INTO decision ({', '.join(DECISION_COLUMNS)})"
    f" VALUES ({marks(len(DECISION_COLUMNS))})"
)
SPOOL_LIST = (
    "SELECT m.id, m.received_at, m.sender, r.address, r.attempts, r.next_attempt,"
    " r.last_reply, length(m.data), m.message_id FROM spool_recipient r"
    " JOIN spool_message m ON m.id = r.message_id ORDER BY m.received_at, r.address"
)
SPOOL_MESSAGE_COLUMNS = (
    "id, received_at, sender, data, message_id, session_id, client, auth_user, purpose, topic"
)
SPOOL_RECIPIENT_COLUMNS = (
    "message_id, address, prefix, data, attempts, next_attempt, last_reply"
)


def write_batch_statements(batch: WriteBatch) -> list[tuple[str, list[tuple[Any, ...]]]]:
    """(statement, rows) in the order one commit runs them; statements with no rows left out.

    Final recipients are deleted before the empty-message sweep so a message goes with its
    last recipient.
    """
    final = [(u.message_id, u.address) for u in batch.updates if u.status in FINAL_STATUSES]
    steps: list[tuple[str, list[tuple[Any, ...]]]] = [
        (INSERT_SPOOL_MESSAGE, [
            (m.id, m.received_at, m.sender, m.message_id, m.session_id, m.client, m.auth_user,
             m.purpose, m.topic, m.data) for m in batch.messages
        ]),
        (INSERT_SPOOL_RECIPIENT, [
            (m.id, r.address, r.prefix, r.data, r.attempts, r.next_attempt, r.last_reply)
            for m in batch.messages for r in m.recipients
        ]),
        (DELETE_SPOOL_RECIPIENT, final),
        (DELETE_EMPTY_MESSAGE, [(mid,) for mid in dict.fromkeys(mid for mid, _ in final)]),
        (UPDATE_SPOOL_RECIPIENT, [
            (u.attempts, u.next_attempt, u.last_reply, u.message_id, u.address)
            for u in batch.updates if u.status not in FINAL_STATUSES
        ]),
        (INSERT_DECISION, [tuple(getattr(d, c) for c in DECISION_COLUMNS)
                           for d in batch.decisions]),
        (INSERT_SUPPRESSION, [(s.address, s.scope, s.reason, s.source, s.created_at)
                              for s in batch.suppressions]),
    ]
    return [(sql, rows) for sql, rows in steps if rows]


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
        for r in message_rows if r[0] in by_message
    ]


def decisions_sql(query: DecisionQuery, mark: str) -> tuple[str, list[Any]]:
    """The whole decisions query: filters, keyset order, and the limit as last parameter."""
    where, params = decision_where(query, mark)
    params.append(query.limit)
    limit = "?" if mark == "?" else f"${len(params)}"
    order = "DESC" if query.newest_first else "ASC"
    return (
        f"SELECT seq, {', '.join(DECISION_COLUMNS)} FROM decision {where}"
        f" ORDER BY seq {order} LIMIT {limit}",
        params,
    )


# -- contact view and suppression listing --

IMPORT_CHUNK = 5000
"""Rows per executemany: big enough to amortise round trips, small enough to keep memory flat."""
COUNTED_TABLES = ("contact", "consent_event", "suppression")
"""An import reports how these grew: new contacts, consent events, suppressions."""

CONTACT_VIEW_QUERIES = {
    "contact": "SELECT address, original, country, source, created_at, last_engaged_at"
               " FROM contact WHERE address = ?",
    "consents": "SELECT topic, granted_at, double_opt_in_at, withdrawn_at, source, proof"
                " FROM consent WHERE address = ? ORDER BY topic",
    "events": "SELECT address, topic, kind, at, source, proof FROM consent_event"
              " WHERE address = ? ORDER BY at, seq",
    "relationships": "SELECT kind, last_at, categories FROM relationship WHERE address = ?"
                     " ORDER BY kind",
}
SUPPRESSION_COLUMNS = "address, scope, reason, source, created_at"
SUPPRESSIONS_OF = (
    f"SELECT {SUPPRESSION_COLUMNS} FROM suppression WHERE address = ? ORDER BY scope, reason"
)
SUPPRESSIONS_PAGE = (
    f"SELECT {SUPPRESSION_COLUMNS} FROM suppression WHERE (address, scope, reason) > (?, ?, ?)"
    " ORDER BY address, scope, reason LIMIT ?"
)


def import_batches(chunk: Sequence[ContactRow], now: str) -> list[tuple[str, list[Any]]]:
    """(statement, rows) for a chunk of CSV rows, in IMPORT_STATEMENTS order."""
    batches: dict[str, list[tuple[Any, ...]]] = {sql: [] for sql in IMPORT_STATEMENTS}
    for row in chunk:
        for sql, params in contact_row_params(row, now).items():
            batches[sql].extend(params)
    return [(sql, rows) for sql, rows in batches.items() if rows]


def contact_view(
    address: str, rows: dict[str, list[Sequence[Any]]], suppressions: list[SuppressionEntry]
) -> ContactView | None:
    """Assemble `contacts show` from the rows of CONTACT_VIEW_QUERIES; None if nothing known."""
    if not rows["contact"] and not suppressions:
        return None
    view = ContactView(*rows["contact"][0]) if rows["contact"] else ContactView(address)
    view.suppressions = suppressions
    view.consents = [
        dict(zip(("topic", "granted_at", "double_opt_in_at", "withdrawn_at", "source", "proof"),
                 r, strict=True))
        for r in rows["consents"]
    ]
    view.events = [ConsentEvent(*r) for r in rows["events"]]
    view.relationships = [
        dict(zip(("kind", "last_at", "categories"), r, strict=True)) for r in rows["relationships"]
    ]
    return view


def unsuppress_sql(
    address: str, scope: str | None, reason: str | None
) -> tuple[str, tuple[str, ...]]:
    clauses, params = ["address = ?"], [address]
    for column, value in (("scope", scope), ("reason", reason)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    return f"DELETE FROM suppression WHERE {' AND '.join(clauses)}", tuple(params)


# -- retention and erasure --

FORGET: tuple[tuple[str, str], ...] = (
    # (table, statement); parameters are (hashed, address) or (address,)
    ("decision", "UPDATE decision SET recipient = ?, detail = replace(detail, ?, ?)"
                 " WHERE recipient = ?"),
    ("decision_sender", "UPDATE decision SET sender = ? WHERE sender = ?"),
    ("consent_event", "DELETE FROM consent_event WHERE address = ?"),
    ("consent", "DELETE FROM consent WHERE address = ?"),
    ("relationship", "DELETE FROM relationship WHERE address = ?"),
    ("suppression", "DELETE FROM suppression WHERE address = ?"),
    ("spool_recipient", "DELETE FROM spool_recipient WHERE address = ?"),
    ("contact", "DELETE FROM contact WHERE address = ?"),
)


def forget_params(table: str, address: str, hashed: str) -> tuple[str, ...]:
    if table == "decision":
        return (hashed, address, hashed, address)
    if table == "decision_sender":
        return (hashed, address)
    return (address,)


INACTIVE_CONSENTS = (
    "SELECT c.address, c.topic FROM consent c JOIN contact k ON k.address = c.address"
    " WHERE COALESCE(k.last_engaged_at, '') < ? AND COALESCE(c.double_opt_in_at, '') < ?"
    " AND COALESCE(c.granted_at, '') < ? AND NOT EXISTS (SELECT 1 FROM relationship r"
    " WHERE r.address = c.address AND r.last_at >= ?)"
)

META_DEFAULT = "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING"
META_VALUE = "SELECT value FROM meta WHERE name = ?"
PURGE_DECISIONS = "DELETE FROM decision WHERE time < ?"
DELETE_CONSENT = "DELETE FROM consent WHERE address = ? AND topic = ?"
DELETE_EMPTY_MESSAGES = (
    "DELETE FROM spool_message WHERE NOT EXISTS"
    " (SELECT 1 FROM spool_recipient WHERE message_id = spool_message.id)"
)
