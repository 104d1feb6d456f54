"""Consent, suppressions and contacts put straight into a store before a test acts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from gateway.store.records import ConsentEvent, ContactRow, SuppressionEntry
from tests.support.dates import days_ago

GRANTED = days_ago(30)
"""Recent enough that consent granted then is live (policy.inactive_after_days) whenever the
suite runs, and older than a pending confirmation's window (48 hours)."""
SIGNED_UP = days_ago(60)
"""When `seed_contact` grants: live as GRANTED is, and before it as it was."""
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
        [ConsentEvent(address, topic, "grant", SIGNED_UP, "signup-form", proof) for topic in topics]
    )
