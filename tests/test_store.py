"""The store's contract, run against both engines: SQLite on a temporary file, PostgreSQL on a
database of its own created on the server at $GATEKEEPER_TEST_PG_URL (skipped when that
server cannot be reached)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.store import Store, open_store
from gateway.store.records import (
    ConsentEvent,
    ContactRow,
    Decision,
    DecisionQuery,
    RecipientUpdate,
    SpoolMessage,
    SpoolRecipient,
    SuppressionEntry,
    WriteBatch,
)
from gateway.store.schema import MIGRATIONS
from gateway.store.sql import IMPORT_CHUNK

PG_SERVER = os.environ.get("GATEKEEPER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TABLES = ("spool_message", "spool_recipient", "decision", "contact", "consent", "consent_event",
          "relationship", "suppression", "meta")


def database_url(server: str, name: str) -> str:
    return server.rsplit("/", 1)[0] + "/" + name


async def run_on_server(sql: str) -> None:
    conn = await asyncpg.connect(PG_SERVER, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_database(name: str) -> None:
    await run_on_server(f'CREATE DATABASE "{name}"')


async def drop_database(name: str) -> None:
    # FORCE: a test that failed half-way may have left a pool connected
    await run_on_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_database() -> Iterator[str]:
    """URL of a new database on the test server, dropped afterwards; skips when unreachable."""
    name = f"gk_test_{secrets.token_hex(6)}"
    try:
        asyncio.run(create_database(name))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        pytest.skip(f"PostgreSQL at {PG_SERVER} is not usable ({exc}); set GATEKEEPER_TEST_PG_URL")
    yield database_url(PG_SERVER, name)
    asyncio.run(drop_database(name))


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    yield from fresh_database()


async def empty_tables(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = open_store(store_url)
    await opened.open()
    if store_url.startswith("postgresql"):
        await empty_tables(store_url)
    yield opened
    await opened.close()


# -- helpers --------------------------------------------------------------------------------

def message(mid: str, *addresses: str, due: float = 100.0, data: bytes = b"body\r\n",
            received_at: float = 1.0) -> SpoolMessage:
    return SpoolMessage(
        id=mid, received_at=received_at, sender="app@example.com", data=data,
        recipients=[SpoolRecipient(a, next_attempt=due) for a in addresses],
        message_id=f"<{mid}@example.com>", session_id="s1", client="127.0.0.1",
        auth_user="billing", purpose="transactional", topic="receipts",
    )


def decision(n: int, **fields: str) -> Decision:
    values: dict[str, Any] = {
        "time": f"2024-01-01T00:00:{n:02d}.000Z", "phase": "rcpt", "action": "allow",
        "recipient": f"r{n}@example.org", "basis": "consent", "purpose": "marketing",
        "jurisdiction": "eu", "sender": "app@example.com", "message_id": f"m{n}@example.com",
        "queue_id": f"q{n}",
    }
    values.update(fields)
    return Decision(**values)


def update(mid: str, address: str, status: str, attempts: int = 1, next_attempt: float = 500.0,
           reply: str = "") -> RecipientUpdate:
    return RecipientUpdate(mid, address, status, attempts, next_attempt, reply)


def row(line: int, address: str, **fields: Any) -> ContactRow:
    return ContactRow(line=line, address=address, original=address.upper(), **fields)


async def claimed(store: Store, now: float, lease: float = 50.0,
                  limit: int = 100) -> dict[str, list[str]]:
    return {m.id: sorted(r.address for r in m.recipients)
            for m in await store.spool_claim(now, lease, limit)}


# -- migrations -----------------------------------------------------------------------------

async def test_opening_again_keeps_schema_and_data(store: Store) -> None:
    await store.suppress([SuppressionEntry("a@example.org", "all", "complaint")])
    again = open_store(store.url)
    await again.open()
    try:
        assert [e.address for e in await again.suppressions()] == ["a@example.org"]
    finally:
        await again.close()


@pytest.mark.usefixtures("pg_url")
async def test_instances_starting_together_migrate_once() -> None:
    name = f"gk_test_{secrets.token_hex(6)}"
    await create_database(name)
    url = database_url(PG_SERVER, name)
    stores = [open_store(url) for _ in range(3)]
    try:
        await asyncio.gather(*(s.open() for s in stores))
        conn = await asyncpg.connect(url)
        versions = [r[0] for r in await conn.fetch("SELECT version FROM schema_version")]
        await conn.close()
        assert sorted(versions) == list(range(1, len(MIGRATIONS) + 1))
    finally:
        await asyncio.gather(*(s.close() for s in stores))
        await drop_database(name)


# -- spool ----------------------------------------------------------------------------------

async def test_claim_returns_messages_with_their_bytes(store: Store) -> None:
    spooled = message("m1", "a@example.org", "b@example.org", data=b"\x00\xffbytes")
    spooled.recipients[1].prefix = b"X-For: b\r\n"
    spooled.recipients[1].data = b"personal\r\n"
    await store.commit(WriteBatch(messages=[spooled]))
    [got] = await store.spool_claim(100.0, 50.0, 10)
    assert (got.id, got.sender, got.data, got.message_id, got.auth_user, got.topic) == (
        "m1", "app@example.com", b"\x00\xffbytes", "<m1@example.com>", "billing", "receipts")
    by_address = {r.address: r for r in got.recipients}
    assert by_address["a@example.org"].content(got.data) == b"\x00\xffbytes"
    assert by_address["b@example.org"].content(got.data) == b"X-For: b\r\npersonal\r\n"


async def test_claim_leases_due_recipients_only(store: Store) -> None:
    await store.commit(WriteBatch(messages=[
        message("m1", "a@example.org"), message("m2", "b@example.org", due=300.0),
    ]))
    assert await claimed(store, 100.0, lease=50.0) == {"m1": ["a@example.org"]}
    assert await claimed(store, 120.0) == {}, "leased until 150"
    assert await claimed(store, 150.0, lease=500.0) == {"m1": ["a@example.org"]}
    assert await claimed(store, 300.0) == {"m2": ["b@example.org"]}


async def test_claim_takes_only_the_due_recipients_of_a_message(store: Store) -> None:
    spooled = message("m1", "a@example.org", "b@example.org")
    spooled.recipients[1].next_attempt = 900.0
    await store.commit(WriteBatch(messages=[spooled]))
    assert await claimed(store, 100.0) == {"m1": ["a@example.org"]}


async def test_claim_limit_counts_messages_earliest_due_first(store: Store) -> None:
    await store.commit(WriteBatch(messages=[
        message(f"m{n}", "a@example.org", "b@example.org", due=float(100 - n)) for n in range(5)
    ]))
    assert await claimed(store, 100.0, limit=2) == {
        "m4": ["a@example.org", "b@example.org"], "m3": ["a@example.org", "b@example.org"]}


async def test_concurrent_claimers_take_disjoint_messages(store: Store) -> None:
    await store.commit(WriteBatch(messages=[message(f"m{n}", "a@example.org")
                                            for n in range(40)]))
    others = [open_store(store.url) for _ in range(3)]
    await asyncio.gather(*(o.open() for o in others))
    try:
        rounds = await asyncio.gather(*(
            s.spool_claim(100.0, 50.0, 5) for s in [store, *others] for _ in range(3)
        ))
    finally:
        await asyncio.gather(*(o.close() for o in others))
    ids = [m.id for claim in rounds for m in claim]
    assert len(ids) == len(set(ids)), "a message was claimed twice"
    assert len(ids) + len(await store.spool_claim(100.0, 50.0, 100)) == 40


async def test_final_statuses_delete_recipients_then_empty_messages(store: Store) -> None:
    await store.commit(WriteBatch(messages=[message("m1", "a@example.org", "b@example.org"),
                                            message("m2", "c@example.org")]))
    await store.commit(WriteBatch(updates=[update("m1", "a@example.org", "delivered"),
                                           update("m2", "c@example.org", "bounced")]))
    assert [(e.id, e.recipient) for e in await store.spool_list()] == [("m1", "b@example.org")]
    await store.commit(WriteBatch(updates=[update("m1", "b@example.org", "delivered")]))
    assert await store.spool_list() == []
    assert await store.spool_claim(10_000.0, 50.0, 10) == []


async def test_deferred_update_records_attempt_and_next_try(store: Store) -> None:
    await store.commit(WriteBatch(messages=[message("m1", "a@example.org")]))
    await store.commit(WriteBatch(updates=[
        update("m1", "a@example.org", "queued", attempts=2, next_attempt=700.0,
               reply="451 4.4.1 try later")]))
    [entry] = await store.spool_list()
    assert (entry.attempts, entry.next_attempt, entry.last_reply) == (
        2, 700.0, "451 4.4.1 try later")
    [again] = await store.spool_claim(700.0, 50.0, 10)
    assert again.recipients[0].attempts == 2


async def test_commit_is_one_transaction(store: Store) -> None:
    await store.commit(WriteBatch(messages=[message("m1", "a@example.org")]))
    with pytest.raises(Exception):  # noqa: B017 - each engine raises its driver's own error
        await store.commit(WriteBatch(messages=[message("m2", "b@example.org"),
                                                message("m1", "c@example.org")],
                                      decisions=[decision(1)]))
    assert [e.id for e in await store.spool_list()] == ["m1"]
    assert await store.decisions(DecisionQuery()) == []


async def test_spool_list_shows_each_recipient(store: Store) -> None:
    await store.commit(WriteBatch(messages=[
        message("m2", "b@example.org", "a@example.org", received_at=2.0, data=b"12345"),
        message("m1", "c@example.org", received_at=1.0),
    ]))
    entries = await store.spool_list()
    assert [(e.id, e.recipient, e.size) for e in entries] == [
        ("m1", "c@example.org", 6), ("m2", "a@example.org", 5), ("m2", "b@example.org", 5)]
    assert (entries[0].sender, entries[0].message_id, entries[0].received_at) == (
        "app@example.com", "<m1@example.com>", 1.0)


async def test_release_and_retry_make_recipients_due(store: Store) -> None:
    await store.commit(WriteBatch(messages=[
        message("m1", "a@example.org", "b@example.org", due=900.0),
        message("m2", "c@example.org", due=900.0), message("m3", "d@example.org", due=50.0),
    ]))
    assert await store.spool_retry(["m1"], 100.0) == 2
    assert await claimed(store, 100.0) == {"m1": ["a@example.org", "b@example.org"],
                                           "m3": ["d@example.org"]}
    assert await store.spool_release(100.0) == 4, "everything leased or later becomes due"
    assert await store.spool_retry([], 100.0) == 4
    assert set(await claimed(store, 100.0)) == {"m1", "m2", "m3"}


# -- decisions ------------------------------------------------------------------------------

@pytest.fixture
async def decided(store: Store) -> list[Decision]:
    rows = [
        decision(1),
        decision(2, action="deny", reason="no-consent", basis="", recipient="x@example.org"),
        decision(3, purpose="transactional", jurisdiction="cz", sender="other@example.com"),
        decision(4, phase="delivery", reason="delivered", queue_id="q1"),
        decision(5, action="deny", reason="unsubscribed", basis="", recipient="x@example.org"),
    ]
    await store.commit(WriteBatch(decisions=rows))
    return rows


async def found(store: Store, **query: Any) -> list[str]:
    return [d.time[-7:-5] for _, d in await store.decisions(DecisionQuery(**query))]


@pytest.mark.parametrize(("query", "expected"), [
    ({}, ["01", "02", "03", "04", "05"]),
    ({"action": "deny"}, ["02", "05"]),
    ({"reason": "no-consent"}, ["02"]),
    ({"recipient": "x@example.org"}, ["02", "05"]),
    ({"purpose": "transactional"}, ["03"]),
    ({"jurisdiction": "cz"}, ["03"]),
    ({"sender": "other@example.com"}, ["03"]),
    ({"phase": "delivery"}, ["04"]),
    ({"message_id": "q1"}, ["01", "04"]),
    ({"message_id": "m2@example.com"}, ["02"]),
    ({"since": "2024-01-01T00:00:02.000Z"}, ["02", "03", "04", "05"]),
    ({"until": "2024-01-01T00:00:02.000Z"}, ["01"]),
    ({"action": "deny", "recipient": "x@example.org", "reason": "unsubscribed"}, ["05"]),
    ({"limit": 2}, ["01", "02"]),
    ({"newest_first": True, "limit": 2}, ["05", "04"]),
])
async def test_decision_filters(store: Store, decided: list[Decision], query: dict[str, Any],
                                expected: list[str]) -> None:
    assert await found(store, **query) == expected


async def test_decisions_keep_every_field(store: Store, decided: list[Decision]) -> None:
    [(_, got)] = await store.decisions(DecisionQuery(reason="no-consent"))
    assert got == decided[1]


async def test_decision_keyset_paging(store: Store, decided: list[Decision]) -> None:
    pages: list[list[int]] = []
    after: int | None = None
    while page := await store.decisions(DecisionQuery(after=after, limit=2)):
        pages.append([seq for seq, _ in page])
        after = page[-1][0]
    assert [len(p) for p in pages] == [2, 2, 1]
    seqs = [s for p in pages for s in p]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    back = await store.decisions(DecisionQuery(before=seqs[3], newest_first=True, limit=2))
    assert [seq for seq, _ in back] == [seqs[2], seqs[1]]


async def test_decision_counts(store: Store, decided: list[Decision]) -> None:
    counts = await store.decision_counts()
    assert counts["action"] == [("allow", 3), ("deny", 2)]
    assert counts["phase"] == [("rcpt", 4), ("delivery", 1)]
    recent = await store.decision_counts(since="2024-01-01T00:00:04.000Z")
    assert recent["reason"] == [("delivered", 1), ("unsubscribed", 1)]


# -- contacts, consents, facts --------------------------------------------------------------

CONTACTS = [
    row(2, "ann@example.org", country="CZ", source="signup-form",
        consent_topics=("newsletter", "marketing"), consent_at="2024-01-01T10:00:00Z",
        double_opt_in_at="2024-01-01T10:05:00Z", consent_proof='{"ip": "192.0.2.1"}',
        last_engaged_at="2024-03-01T00:00:00Z"),
    row(3, "bob@example.org", country="PL", customer_kind="purchase",
        last_purchase_at="2024-02-01T00:00:00Z", purchase_categories=("books", "music"),
        objected_scopes=("survey",)),
]


async def test_import_then_facts_for_several_addresses(store: Store) -> None:
    counts = await store.import_contacts(iter(CONTACTS))
    assert (counts.rows, counts.contacts_new, counts.consent_events, counts.suppressions) == (
        2, 2, 4, 1)
    await store.record_consent([ConsentEvent("ann@example.org", "newsletter", "withdraw",
                                             "2024-04-01T00:00:00Z")])
    await store.suppress([SuppressionEntry("zed@example.org", "all", "hard-bounce", "bounce")])
    facts = await store.recipient_facts(["ann@example.org", "bob@example.org",
                                         "zed@example.org", "nobody@example.org",
                                         "ann@example.org"])
    assert set(facts) == {"ann@example.org", "bob@example.org", "zed@example.org"}
    ann, bob, zed = facts["ann@example.org"], facts["bob@example.org"], facts["zed@example.org"]
    assert (ann.known, ann.country, ann.source) == (True, "cz", "signup-form")
    assert ann.last_engaged_at is not None and ann.last_engaged_at.year == 2024
    consents = {c.topic: c for c in ann.consents}
    assert consents["newsletter"].withdrawn_at is not None
    assert consents["marketing"].withdrawn_at is None
    assert consents["marketing"].double_opt_in_at is not None and consents["marketing"].has_proof
    assert [(r.kind, r.categories) for r in bob.relationships] == [
        ("purchase", frozenset({"books", "music"}))]
    assert [(s.scope, s.reason) for s in bob.suppressions] == [("survey", "objected")]
    assert (zed.known, zed.consents, [(s.scope, s.reason) for s in zed.suppressions]) == (
        False, (), [("all", "hard-bounce")])
    assert await store.recipient_facts([]) == {}


async def test_keys_looked_up_only_in_the_suppression_list(store: Store) -> None:
    """An erased address's hash is asked for its suppressions alone (Decider.facts)."""
    await store.suppress([SuppressionEntry("erased:0f", "all", "erased", "forget")])
    facts = await store.recipient_facts(["ann@example.org"], ["erased:0f"])
    assert list(facts) == ["erased:0f"]
    assert [(s.scope, s.reason) for s in facts["erased:0f"].suppressions] == [("all", "erased")]
    assert not facts["erased:0f"].known


async def test_reimport_updates_without_duplicate_events(store: Store) -> None:
    await store.import_contacts(CONTACTS)
    changed = row(2, "ann@example.org", country="DE", consent_topics=("newsletter", "marketing"),
                  consent_at="2024-01-01T10:00:00Z", double_opt_in_at="2024-01-01T10:05:00Z")
    counts = await store.import_contacts([changed, CONTACTS[1]])
    assert (counts.rows, counts.contacts_new, counts.consent_events, counts.suppressions) == (
        2, 0, 0, 0)
    view = await store.contact("ann@example.org")
    assert view is not None
    assert (view.country, view.source) == ("DE", "signup-form"), "empty columns keep old values"
    assert len(view.events) == 4
    assert [c["proof"] for c in view.consents] == ['{"ip": "192.0.2.1"}'] * 2


async def test_import_rolls_back_when_a_row_fails_after_a_full_chunk(store: Store) -> None:
    await store.import_contacts(CONTACTS)

    def rows() -> Iterator[ContactRow]:
        for n in range(IMPORT_CHUNK + 10):
            yield row(n + 2, f"u{n}@example.org", objected_scopes=("all",))
        raise ValueError("line 5012: bad country")

    with pytest.raises(ValueError, match="line 5012"):
        await store.import_contacts(rows())
    assert await store.contact("u0@example.org") is None
    assert [e.address for e in await store.suppressions()] == ["bob@example.org"]


async def test_consent_events_move_the_current_state(store: Store) -> None:
    address = "cat@example.org"
    await store.import_contacts([row(2, address)])
    steps: list[tuple[str, str, dict[str, str | None]]] = [
        ("grant", "2024-01-01T00:00:00Z", {"granted_at": "2024-01-01T00:00:00Z",
                                           "double_opt_in_at": None, "withdrawn_at": None}),
        ("confirm", "2024-01-01T00:10:00Z", {"double_opt_in_at": "2024-01-01T00:10:00Z"}),
        ("withdraw", "2024-02-01T00:00:00Z", {"withdrawn_at": "2024-02-01T00:00:00Z"}),
        ("resubscribe", "2024-03-01T00:00:00Z", {"granted_at": "2024-03-01T00:00:00Z",
                                                 "withdrawn_at": None}),
    ]
    for kind, at, expected in steps:
        await store.record_consent([ConsentEvent(address, "news", kind, at, "form", '{"ip": 1}')])
        view = await store.contact(address)
        assert view is not None
        [state] = view.consents
        assert {k: state[k] for k in expected} == expected, kind
    await store.record_consent([ConsentEvent(address, "news", "grant", "2024-01-01T00:00:00Z",
                                             "form", '{"ip": 1}')])
    view = await store.contact(address)
    assert view is not None
    assert [e.kind for e in view.events] == ["grant", "confirm", "withdraw", "resubscribe"]
    assert view.events[0].proof == '{"ip": 1}'


async def test_contact_view(store: Store) -> None:
    await store.import_contacts(CONTACTS)
    bob = await store.contact("bob@example.org")
    assert bob is not None
    assert (bob.original, bob.country, bob.source, bob.consents) == (
        "BOB@EXAMPLE.ORG", "PL", None, [])
    assert bob.relationships == [{"kind": "purchase", "last_at": "2024-02-01T00:00:00Z",
                                  "categories": "books;music"}]
    assert [(s.scope, s.reason, s.source) for s in bob.suppressions] == [
        ("survey", "objected", "import")]
    assert bob.created_at
    await store.suppress([SuppressionEntry("zed@example.org", "all", "complaint")])
    zed = await store.contact("zed@example.org")
    assert zed is not None and zed.original == "" and len(zed.suppressions) == 1
    assert await store.contact("nobody@example.org") is None


# -- suppressions ---------------------------------------------------------------------------

async def test_suppress_counts_new_rows_only(store: Store) -> None:
    entries = [SuppressionEntry("a@example.org", "all", "complaint", "fbl"),
               SuppressionEntry("a@example.org", "news", "unsubscribed", "link")]
    assert await store.suppress(entries) == 2
    assert await store.suppress([*entries, SuppressionEntry("a@example.org", "all",
                                                             "hard-bounce")]) == 1
    [first, *_] = await store.suppressions("a@example.org")
    assert (first.scope, first.reason, first.source) == ("all", "complaint", "fbl")
    assert first.created_at


async def test_unsuppress_by_scope_or_all(store: Store) -> None:
    await store.suppress([SuppressionEntry("a@example.org", s, "unsubscribed")
                          for s in ("all", "news", "survey")])
    assert await store.unsuppress("a@example.org", "news") == 1
    assert [e.scope for e in await store.suppressions("a@example.org")] == ["all", "survey"]
    assert await store.unsuppress("a@example.org") == 2
    assert await store.unsuppress("a@example.org") == 0


async def test_unsuppress_by_reason(store: Store) -> None:
    await store.suppress([SuppressionEntry("a@example.org", "all", r)
                          for r in ("complaint", "hard-bounce")])
    assert await store.unsuppress("a@example.org", reason="hard-bounce") == 1
    assert [e.reason for e in await store.suppressions("a@example.org")] == ["complaint"]


async def test_suppressions_page_by_address(store: Store) -> None:
    await store.suppress([SuppressionEntry(f"{c}@example.org", "all", "complaint")
                          for c in "dcbae"])
    first = await store.suppressions(limit=2)
    last = first[-1]
    rest = await store.suppressions(limit=10, after=(last.address, last.scope, last.reason))
    assert [e.address[0] for e in first + rest] == list("abcde")


async def test_suppressions_paging_keeps_an_address_split_across_pages(store: Store) -> None:
    await store.suppress([SuppressionEntry("a@example.org", s, "unsubscribed")
                          for s in ("all", "news")])
    first = await store.suppressions(limit=1)
    last = first[-1]
    rest = await store.suppressions(after=(last.address, last.scope, last.reason))
    assert len(first + rest) == 2


# -- settings, erasure, retention -----------------------------------------------------------

async def test_meta_keeps_the_first_value(store: Store) -> None:
    assert await store.meta("secret", "one") == "one"
    assert await store.meta("secret", "two") == "one"


async def test_consent_event_for_an_unknown_address_creates_the_contact(store: Store) -> None:
    await store.record_consent([ConsentEvent("new@example.org", "news", "grant",
                                             "2024-05-01T00:00:00Z", "form")])
    view = await store.contact("new@example.org")
    assert view is not None
    assert (view.original, view.source, view.created_at) == (
        "new@example.org", "form", "2024-05-01T00:00:00Z")


async def test_forget_erases_and_keeps_a_hashed_suppression(store: Store) -> None:
    await store.import_contacts(CONTACTS)
    await store.commit(WriteBatch(
        messages=[message("m1", "bob@example.org"), message("m2", "bob@example.org",
                                                              "ann@example.org")],
        decisions=[decision(1, recipient="bob@example.org", detail="to bob@example.org"),
                   decision(2, sender="bob@example.org")],
    ))
    touched = await store.forget("bob@example.org", "h:bob")
    assert touched["contact"] == 1 and touched["decision"] == 1
    assert touched["spool_recipient"] == 2
    assert await store.contact("bob@example.org") is None
    assert [(e.address, e.reason) for e in await store.suppressions()] == [("h:bob", "erased")]
    assert [(e.id, e.recipient) for e in await store.spool_list()] == [("m2", "ann@example.org")]
    rows = [d for _, d in await store.decisions(DecisionQuery())]
    assert (rows[0].recipient, rows[0].detail, rows[1].sender) == ("h:bob", "to h:bob", "h:bob")


async def test_purge_drops_old_decisions_and_expires_inactive_consents(store: Store) -> None:
    await store.import_contacts(CONTACTS)
    await store.commit(WriteBatch(decisions=[decision(1), decision(30)]))
    result = await store.purge("2024-01-01T00:00:10.000Z", "2024-06-01T00:00:00Z",
                               "2024-07-01T00:00:00Z")
    assert result == {"decisions": 1, "consents_expired": 2}
    assert len(await store.decisions(DecisionQuery())) == 1
    ann = await store.contact("ann@example.org")
    assert ann is not None and ann.consents == []
    assert [e.kind for e in ann.events].count("expire") == 2
