"""Consent, suppressions and contacts put straight into a store before a test acts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from gateway.store.records import ConsentEvent, ContactRow, SuppressionEntry

GRANTED = "2026-01-01T00:00:00.000Z"
PROOF = '{"ip":"192.0.2.1"}'


async def seed(store: Any, consented: Sequence[str], suppressed: Sequence[str] = ()) -> None:
    """Newsletter consent for `consented`; `suppressed` unsubscribed from everything."""
    await store.record_consent(
        [
            ConsentEvent(address, "newsletter", "grant", GRANTED, "signup-form", PROOF)
            for address in consented
        ]
    )
    await store.suppress(
        [
            SuppressionEntry(address, "all", "unsubscribed", "test", GRANTED)
            for address in suppressed
        ]
    )


async def seed_contact(store: Any, address: str, *topics: str, country: str | None = None) -> None:
    """A contact row and its consent to `topics` (`Store.contact` shows consents only of
    addresses with a contact row)."""
    row = ContactRow(line=2, address=address, original=address, country=country)
    await store.import_contacts([row])
    proof = json.dumps({"ip": "192.0.2.1", "text": "Sign me up"})
    await store.record_consent(
        [
            ConsentEvent(address, topic, "grant", "2025-01-01T00:00:00.000Z", "signup-form", proof)
            for topic in topics
        ]
    )
