"""Defects found in review (issue 10), each pinned on both engines: erasure of every spelling
of an address, import counts of the touched keys only, an opt-out in one transaction, and the
decision log's recipient filter in canonical form."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import closing

import asyncpg
import pytest

from gateway.pipeline import optout
from gateway.pipeline.audit import Audit
from gateway.pipeline.writer import Writer
from gateway.store import Store
from gateway.store.records import (
    ConsentEvent,
    ContactRow,
    DecisionQuery,
    SuppressionEntry,
    WriteBatch,
)
from tests.store.helpers import CONTACTS, decision, message, row

# Spellings an envelope may carry, and the canonical key (casefold + IDNA) rows are filed under.
SPELLINGS = {
    "ann.person@example.org": ("Ann.Person@Example.ORG", "ANN.PERSON@example.org"),
    "strasse@xn--bcher-kva.example": ("Straße@bücher.example", "STRASSE@XN--BCHER-KVA.example"),
}


@pytest.mark.parametrize("key", list(SPELLINGS))
async def test_forget_erases_every_spelling_of_the_address(store: Store, key: str) -> None:
    queued, other = SPELLINGS[key]
    await store.commit(
        WriteBatch(
            messages=[message("m1", queued, "bob@example.org"), message("m2", other)],
            decisions=[
                decision(1, recipient=key, detail=f"550 5.1.1 <{queued}> unknown; {other} too"),
                decision(2, sender=queued, recipient="bob@example.org"),
            ],
        )
    )
    touched = await store.forget(key, "h:1")
    assert [(e.id, e.recipient) for e in await store.spool_list()] == [("m1", "bob@example.org")]
    assert (touched["spool_recipient"], touched["decision"], touched["decision_sender"]) == (
        2,
        1,
        1,
    )
    first, second = [d for _, d in await store.decisions(DecisionQuery())]
    assert (first.recipient, first.detail) == ("h:1", "550 5.1.1 <h:1> unknown; h:1 too")
    assert second.sender == "h:1"


async def test_forget_leaves_other_addresses_in_the_detail(store: Store) -> None:
    await store.commit(
        WriteBatch(
            decisions=[
                decision(
                    1,
                    recipient="ann@example.org",
                    detail="to ANN@example.org, not joann@example.org",
                )
            ]
        )
    )
    await store.forget("ann@example.org", "h:ann")
    [(_, row_)] = await store.decisions(DecisionQuery())
    assert row_.detail == "to h:ann, not joann@example.org"


@pytest.mark.parametrize(
    "asked", ["Straße@Bücher.example", "straße@bücher.example", "STRASSE@xn--bcher-kva.EXAMPLE"]
)
async def test_recipient_filter_matches_the_canonical_key(store: Store, asked: str) -> None:
    await store.commit(
        WriteBatch(decisions=[decision(1, recipient="strasse@xn--bcher-kva.example"), decision(2)])
    )
    found = await store.decisions(DecisionQuery(recipient=asked))
    assert [d.recipient for _, d in found] == ["strasse@xn--bcher-kva.example"]


async def test_recipient_filter_takes_an_erased_hash_as_it_is(store: Store) -> None:
    await store.commit(WriteBatch(decisions=[decision(1, recipient="erased:0fA")]))
    assert len(await store.decisions(DecisionQuery(recipient="erased:0fA"))) == 1


async def test_import_counts_what_it_added(store: Store) -> None:
    await store.suppress([SuppressionEntry("bob@example.org", "survey", "objected", "import")])
    counts = await store.import_contacts([*CONTACTS, CONTACTS[0], row(4, "cy@example.org")])
    assert (counts.rows, counts.contacts_new, counts.consent_events, counts.suppressions) == (
        4,
        3,
        4,
        0,
    )


async def test_import_counts_only_its_own_rows(store_url: str, store: Store) -> None:
    """Rows another instance commits while an import runs are not the import's (PostgreSQL:
    instances share the tables; SQLite's single writer cannot interleave with an import)."""
    if not store_url.startswith("postgresql"):
        pytest.skip("only PostgreSQL lets another writer commit during an import")

    async def other_instance() -> None:
        conn = await asyncpg.connect(store_url)
        try:
            await conn.execute(
                "INSERT INTO contact (address, original, created_at) VALUES ('o@x.org', 'o', '');"
                " INSERT INTO suppression (address, scope, reason, created_at)"
                " VALUES ('o@x.org', 'all', 'complaint', '');"
                " INSERT INTO consent_event (address, topic, kind, at)"
                " VALUES ('o@x.org', 'news', 'grant', '')"
            )
        finally:
            await conn.close()

    def rows() -> Iterator[ContactRow]:
        yield CONTACTS[0]
        # a real second writer, committing while this import's transaction is open
        thread = threading.Thread(target=asyncio.run, args=(other_instance(),))
        thread.start()
        thread.join(timeout=30)
        yield CONTACTS[1]

    counts = await store.import_contacts(rows())
    assert (counts.contacts_new, counts.consent_events, counts.suppressions) == (2, 4, 1)


@pytest.fixture
async def consent_events_refused(store_url: str, store: Store) -> AsyncIterator[None]:
    """A real fault in the database: every consent event insert is refused."""
    if store_url.startswith("sqlite"):
        with closing(sqlite3.connect(store_url.removeprefix("sqlite:///"))) as db:
            db.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON consent_event"
                " BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        yield
        return
    conn = await asyncpg.connect(store_url)
    try:
        await conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN RAISE EXCEPTION 'refused'; END $$;"
            " CREATE TRIGGER refuse BEFORE INSERT ON consent_event"
            " FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
        yield
        # the database serves the module's other tests
        await conn.execute("DROP TRIGGER refuse ON consent_event; DROP FUNCTION refuse()")
    finally:
        await conn.close()


@pytest.mark.usefixtures("consent_events_refused")
async def test_opt_out_keeps_nothing_when_the_consent_event_fails(store: Store) -> None:
    writer = Writer(store)
    with pytest.raises(Exception):  # noqa: B017 - each engine raises its driver's own error
        await optout.leave(
            store, Audit(writer, "test"), "ann@example.org", ["news", "all"], "link", "{}"
        )
    assert await store.suppressions("ann@example.org") == []


async def test_opt_out_records_events_for_new_suppressions_only(store: Store) -> None:
    await store.suppress([SuppressionEntry("ann@example.org", "news", "unsubscribed", "link")])
    new = await store.opt_out(
        [
            SuppressionEntry("ann@example.org", s, "unsubscribed", "page", "2024-05-01T00:00:00Z")
            for s in ("news", "all")
        ],
        [
            ConsentEvent("ann@example.org", s, "unsubscribe", "2024-05-01T00:00:00Z", "page")
            for s in ("news", "all")
        ],
    )
    assert [e.scope for e in new] == ["all"]
    view = await store.contact("ann@example.org")
    assert view is not None and [(e.topic, e.kind) for e in view.events] == [("all", "unsubscribe")]
