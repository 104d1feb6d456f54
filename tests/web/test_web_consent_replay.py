"""The dashboard's "as of then" consents follow the store's own rules: replaying a contact's
whole history gives exactly the consents the store holds now (a real SQLite store)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.consent.contacts import contact_row
from gateway.consent.history import consents_as_of
from gateway.store import Store, open_store
from gateway.store.records import ConsentEvent

ADDRESS = "ann@example.com"


def at(day: int) -> str:
    return f"2026-01-{day:02d}T00:00:00.000Z"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    await opened.open()
    yield opened
    await opened.close()


def event(topic: str, kind: str, day: int, proof: str = "") -> ConsentEvent:
    return ConsentEvent(ADDRESS, topic, kind, at(day), "test", proof)


def comparable(consents: list[dict[str, str | None]]) -> list[dict[str, str]]:
    # an import stores an empty proof as NULL, an event as ""; the pages show both as empty
    return [{k: v or "" for k, v in c.items()} for c in consents]


async def test_replaying_all_events_gives_the_stored_consents(store: Store) -> None:
    record: dict[str, str | None] = {
        "email": ADDRESS,
        "consent_topics": "offers",
        "consent_at": at(1),
        "double_opt_in_at": at(2),
        "source": "import",
    }
    await store.import_contacts([contact_row(1, record)])
    await store.record_consent(
        [
            event("newsletter", "grant", 3, '{"ip":"192.0.2.1"}'),
            event("newsletter", "confirm", 4),
            event("newsletter", "withdraw", 5),
            event("newsletter", "resubscribe", 6, '{"form":"prefs"}'),
            event("offers", "unsubscribe", 7),
            event("surveys", "confirm", 8),  # never granted: changes nothing
            event("surveys", "object", 9),  # an objection is a suppression, not a consent
        ]
    )
    view = await store.contact(ADDRESS)
    assert view is not None
    assert comparable(consents_as_of(view.events)) == comparable(view.consents)
    assert [c["topic"] for c in view.consents] == ["newsletter", "offers"]


async def test_as_of_a_moment_shows_the_state_then(store: Store) -> None:
    await store.record_consent(
        [event("newsletter", "grant", 3), event("newsletter", "withdraw", 5)]
    )
    view = await store.contact(ADDRESS)
    assert view is not None
    before = consents_as_of(view.events, at(4))
    assert [(c["granted_at"], c["withdrawn_at"]) for c in before] == [(at(3), None)]
    assert consents_as_of(view.events, at(2)) == []
    assert consents_as_of(view.events, at(5))[0]["withdrawn_at"] == at(5)
