"""SQL of the consent side, both engines: contacts import, consent events, the contact view,
suppressions, erasure and retention. Statements use `?`; key lists are `{0}` (Dialect.key_list).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from gateway.addresses import ADDRESS_TOKEN, AddressError, canonical
from gateway.store.records import ConsentEvent, ContactRow, ContactView, SuppressionEntry

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
    "confirm": ("UPDATE consent SET double_opt_in_at = ? WHERE address = ? AND topic = ?"),
    "withdraw": "UPDATE consent SET withdrawn_at = ? WHERE address = ? AND topic = ?",
}
CONSENT_STATE["resubscribe"] = CONSENT_STATE["grant"]
CONSENT_STATE["unsubscribe"] = CONSENT_STATE["withdraw"]


def consent_state_params(event: ConsentEvent) -> tuple[str, tuple[Any, ...]] | None:
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
        UPSERT_CONTACT: [
            (row.address, row.original, row.country, row.source, now, row.last_engaged_at)
        ],
        UPSERT_CONSENT: [],
        INSERT_EVENT: [],
        UPSERT_RELATIONSHIP: [],
        INSERT_SUPPRESSION: [],
    }
    proof = row.consent_proof or None
    for topic in row.consent_topics:
        params[UPSERT_CONSENT].append(
            (row.address, topic, row.consent_at, row.double_opt_in_at, source, proof)
        )
        params[INSERT_EVENT].append(
            (row.address, topic, "grant", row.consent_at, source, proof or "")
        )
        if row.double_opt_in_at:
            params[INSERT_EVENT].append(
                (row.address, topic, "confirm", row.double_opt_in_at, source, "")
            )
    if row.customer_kind and row.last_purchase_at:
        params[UPSERT_RELATIONSHIP].append(
            (
                row.address,
                row.customer_kind,
                row.last_purchase_at,
                ";".join(row.purchase_categories),
            )
        )
    for scope in row.objected_scopes:
        params[INSERT_SUPPRESSION].append((row.address, scope, "objected", "import", now))
    return params


IMPORT_STATEMENTS = (
    UPSERT_CONTACT,
    UPSERT_CONSENT,
    INSERT_EVENT,
    UPSERT_RELATIONSHIP,
    INSERT_SUPPRESSION,
)


# -- contact view and suppression listing --

IMPORT_CHUNK = 5000
"""Rows per executemany: big enough to amortise round trips, small enough to keep memory flat."""
TOUCHED_COUNTS = (
    # How many rows the keys of one chunk have in the tables an import reports on (new
    # contacts, consent events, suppressions): counted before and after the chunk, inside the
    # import's transaction, by index on the chunk's keys alone, never the whole tables.
    "SELECT (SELECT count(*) FROM contact WHERE address IN ({0})),"
    " (SELECT count(*) FROM consent_event WHERE address IN ({0})),"
    " (SELECT count(*) FROM suppression WHERE address IN ({0}))"
)
SUPPRESSIONS_OF_KEYS = "SELECT count(*) FROM suppression WHERE address IN ({0})"

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
        dict(
            zip(
                ("topic", "granted_at", "double_opt_in_at", "withdrawn_at", "source", "proof"),
                r,
                strict=True,
            )
        )
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

# Erasure matches every spelling of the address, as canonical() keys it (casefold + IDNA):
# the envelope's spelling stays in the spool and the decision's sender, and replies quote it
# in the detail. Columns that hold spellings are searched by their distinct values, which the
# caller filters with canonical(); columns keyed by the canonical form are matched exactly.
DISTINCT_SENDERS = (
    # a loose index scan over decision_sender: one index seek per distinct sender, not a
    # pass over every decision
    "WITH RECURSIVE s(v) AS (SELECT min(sender) FROM decision UNION ALL"
    " SELECT (SELECT min(sender) FROM decision WHERE sender > s.v) FROM s WHERE s.v IS NOT NULL)"
    " SELECT v FROM s WHERE v IS NOT NULL"
)
DISTINCT_SPOOLED = "SELECT DISTINCT address FROM spool_recipient"
DECISION_DETAILS = (
    "SELECT seq, detail FROM decision WHERE (recipient = ? OR sender IN ({0})) AND detail <> ''"
)
SET_DETAIL = "UPDATE decision SET detail = ? WHERE seq = ?"
FORGET_RECIPIENT = "UPDATE decision SET recipient = ? WHERE recipient = ?"
FORGET_SENDER = "UPDATE decision SET sender = ? WHERE sender IN ({0})"
FORGET_SPOOLED = "DELETE FROM spool_recipient WHERE address IN ({0})"
FORGET_KEYED: tuple[tuple[str, str], ...] = tuple(
    (table, f"DELETE FROM {table} WHERE address = ?")
    for table in ("consent_event", "consent", "relationship", "suppression")
)
FORGET_CONTACT = "DELETE FROM contact WHERE address = ?"


def spellings(values: Iterable[str], address: str) -> list[str]:
    """The values that are a spelling of the canonical `address`."""
    return [v for v in values if _canonical_or_none(v) == address]


def scrub(text: str, address: str, hashed: str) -> str:
    """`text` with every spelling of `address` replaced by `hashed`."""
    return ADDRESS_TOKEN.sub(
        lambda m: hashed if _canonical_or_none(m.group()) == address else m.group(), text
    )


def _canonical_or_none(spelling: str) -> str | None:
    try:
        return canonical(spelling)
    except AddressError:
        return None


INACTIVE_CONSENTS = (
    "SELECT c.address, c.topic FROM consent c JOIN contact k ON k.address = c.address"
    " WHERE COALESCE(k.last_engaged_at, '') < ? AND COALESCE(c.double_opt_in_at, '') < ?"
    " AND COALESCE(c.granted_at, '') < ? AND NOT EXISTS (SELECT 1 FROM relationship r"
    " WHERE r.address = c.address AND r.last_at >= ?)"
)

META_DEFAULT = "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING"
META_VALUE = "SELECT value FROM meta WHERE name = ?"
DELETE_CONSENT = "DELETE FROM consent WHERE address = ? AND topic = ?"
DELETE_EMPTY_MESSAGES = (
    "DELETE FROM spool_message WHERE NOT EXISTS"
    " (SELECT 1 FROM spool_recipient WHERE message_id = spool_message.id)"
)
