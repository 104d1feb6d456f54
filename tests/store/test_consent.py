"""Contacts, consents and their history, facts for the engine, suppressions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.store import Store
from gateway.store.consent_sql import IMPORT_CHUNK
from gateway.store.records import (
    ConsentEvent,
    ContactRow,
    SuppressionEntry,
)
from tests.store.helpers import CONTACTS, row


async def test_import_then_facts_for_several_addresses(store: Store) -> None:
    counts = await store.import_contacts(iter(CONTACTS))
    assert (counts.rows, counts.contacts_new, counts.consent_events, counts.suppressions) == (
        2,
        2,
        4,
        1,
    )
    await store.record_consent(
        [ConsentEvent("ann@example.org", "newsletter", "withdraw", "2024-04-01T00:00:00Z")]
    )
    await store.suppress([SuppressionEntry("zed@example.org", "all", "hard-bounce", "bounce")])
    facts = await store.recipient_facts(
        [
            "ann@example.org",
            "bob@example.org",
            "zed@example.org",
            "nobody@example.org",
            "ann@example.org",
        ]
    )
    assert set(facts) == {"ann@example.org", "bob@example.org", "zed@example.org"}
    ann, bob, zed = facts["ann@example.org"], facts["bob@example.org"], facts["zed@example.org"]
    assert (ann.known, ann.country, ann.source) == (True, "cz", "signup-form")
    assert ann.last_engaged_at is not None and ann.last_engaged_at.year == 2024
    consents = {c.topic: c for c in ann.consents}
    assert consents["newsletter"].withdrawn_at is not None
    assert consents["marketing"].withdrawn_at is None
    assert consents["marketing"].double_opt_in_at is not None and consents["marketing"].has_proof
    assert [(r.kind, r.categories) for r in bob.relationships] == [
        ("purchase", frozenset({"books", "music"}))
    ]
    assert [(s.scope, s.reason) for s in bob.suppressions] == [("survey", "objected")]
    assert (zed.known, zed.consents, [(s.scope, s.reason) for s in zed.suppressions]) == (
        False,
        (),
        [("all", "hard-bounce")],
    )
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
    changed = row(
        2,
        "ann@example.org",
        country="DE",
        consent_topics=("newsletter", "marketing"),
        consent_at="2024-01-01T10:00:00Z",
        double_opt_in_at="2024-01-01T10:05:00Z",
    )
    counts = await store.import_contacts([changed, CONTACTS[1]])
    assert (counts.rows, counts.contacts_new, counts.consent_events, counts.suppressions) == (
        2,
        0,
        0,
        0,
    )
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
        (
            "grant",
            "2024-01-01T00:00:00Z",
            {"granted_at": "2024-01-01T00:00:00Z", "double_opt_in_at": None, "withdrawn_at": None},
        ),
        ("confirm", "2024-01-01T00:10:00Z", {"double_opt_in_at": "2024-01-01T00:10:00Z"}),
        ("withdraw", "2024-02-01T00:00:00Z", {"withdrawn_at": "2024-02-01T00:00:00Z"}),
        (
            "resubscribe",
            "2024-03-01T00:00:00Z",
            {"granted_at": "2024-03-01T00:00:00Z", "withdrawn_at": None},
        ),
    ]
    for kind, at, expected in steps:
        await store.record_consent([ConsentEvent(address, "news", kind, at, "form", '{"ip": 1}')])
        view = await store.contact(address)
        assert view is not None
        [state] = view.consents
        assert {k: state[k] for k in expected} == expected, kind
    await store.record_consent(
        [ConsentEvent(address, "news", "grant", "2024-01-01T00:00:00Z", "form", '{"ip": 1}')]
    )
    view = await store.contact(address)
    assert view is not None
    assert [e.kind for e in view.events] == ["grant", "confirm", "withdraw", "resubscribe"]
    assert view.events[0].proof == '{"ip": 1}'


async def test_contact_view(store: Store) -> None:
    await store.import_contacts(CONTACTS)
    bob = await store.contact("bob@example.org")
    assert bob is not None
    assert (bob.original, bob.country, bob.source, bob.consents) == (
        "BOB@EXAMPLE.ORG",
        "PL",
        None,
        [],
    )
    assert bob.relationships == [
        {"kind": "purchase", "last_at": "2024-02-01T00:00:00Z", "categories": "books;music"}
    ]
    assert [(s.scope, s.reason, s.source) for s in bob.suppressions] == [
        ("survey", "objected", "import")
    ]
    assert bob.created_at
    await store.suppress([SuppressionEntry("zed@example.org", "all", "complaint")])
    zed = await store.contact("zed@example.org")
    assert zed is not None and zed.original == "" and len(zed.suppressions) == 1
    assert await store.contact("nobody@example.org") is None


# -- suppressions ---------------------------------------------------------------------------


async def test_suppress_counts_new_rows_only(store: Store) -> None:
    entries = [
        SuppressionEntry("a@example.org", "all", "complaint", "fbl"),
        SuppressionEntry("a@example.org", "news", "unsubscribed", "link"),
    ]
    assert await store.suppress(entries) == 2
    assert (
        await store.suppress([*entries, SuppressionEntry("a@example.org", "all", "hard-bounce")])
        == 1
    )
    [first, *_] = await store.suppressions("a@example.org")
    assert (first.scope, first.reason, first.source) == ("all", "complaint", "fbl")
    assert first.created_at


async def test_unsuppress_by_scope_or_all(store: Store) -> None:
    await store.suppress(
        [SuppressionEntry("a@example.org", s, "unsubscribed") for s in ("all", "news", "survey")]
    )
    assert await store.unsuppress("a@example.org", "news") == 1
    assert [e.scope for e in await store.suppressions("a@example.org")] == ["all", "survey"]
    assert await store.unsuppress("a@example.org") == 2
    assert await store.unsuppress("a@example.org") == 0


async def test_unsuppress_by_reason(store: Store) -> None:
    await store.suppress(
        [SuppressionEntry("a@example.org", "all", r) for r in ("complaint", "hard-bounce")]
    )
    assert await store.unsuppress("a@example.org", reason="hard-bounce") == 1
    assert [e.reason for e in await store.suppressions("a@example.org")] == ["complaint"]


async def test_suppressions_page_by_address(store: Store) -> None:
    await store.suppress(
        [SuppressionEntry(f"{c}@example.org", "all", "complaint") for c in "dcbae"]
    )
    first = await store.suppressions(limit=2)
    last = first[-1]
    rest = await store.suppressions(limit=10, after=(last.address, last.scope, last.reason))
    assert [e.address[0] for e in first + rest] == list("abcde")


async def test_suppressions_paging_keeps_an_address_split_across_pages(store: Store) -> None:
    await store.suppress(
        [SuppressionEntry("a@example.org", s, "unsubscribed") for s in ("all", "news")]
    )
    first = await store.suppressions(limit=1)
    last = first[-1]
    rest = await store.suppressions(after=(last.address, last.scope, last.reason))
    assert len(first + rest) == 2
