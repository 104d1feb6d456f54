"""Settings, erasure (forget) and retention (purge)."""

from __future__ import annotations

from gateway.store import Store
from gateway.store.records import (
    ConsentEvent,
    DecisionQuery,
    WriteBatch,
)
from tests.store.helpers import CONTACTS, decision, message


async def test_meta_keeps_the_first_value(store: Store) -> None:
    assert await store.meta("secret", "one") == "one"
    assert await store.meta("secret", "two") == "one"


async def test_consent_event_for_an_unknown_address_creates_the_contact(store: Store) -> None:
    await store.record_consent(
        [ConsentEvent("new@example.org", "news", "grant", "2024-05-01T00:00:00Z", "form")]
    )
    view = await store.contact("new@example.org")
    assert view is not None
    assert (view.original, view.source, view.created_at) == (
        "new@example.org",
        "form",
        "2024-05-01T00:00:00Z",
    )


async def test_forget_erases_and_keeps_a_hashed_suppression(store: Store) -> None:
    await store.import_contacts(CONTACTS)
    await store.commit(
        WriteBatch(
            messages=[
                message("m1", "bob@example.org"),
                message("m2", "bob@example.org", "ann@example.org"),
            ],
            decisions=[
                decision(1, recipient="bob@example.org", detail="to bob@example.org"),
                decision(2, sender="bob@example.org"),
            ],
        )
    )
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
    result = await store.purge(
        "2024-01-01T00:00:10.000Z", "2024-06-01T00:00:00Z", "2024-07-01T00:00:00Z"
    )
    assert result == {"decisions": 1, "consents_expired": 2}
    assert len(await store.decisions(DecisionQuery())) == 1
    ann = await store.contact("ann@example.org")
    assert ann is not None and ann.consents == []
    assert [e.kind for e in ann.events].count("expire") == 2
