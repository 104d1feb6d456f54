"""Consent proof export: what is known about an address and on what evidence (GDPR art. 7(1),
15): the same document for `gatekeeper contacts proof` and the API."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from gateway.store.records import ContactView


def proof_document(view: ContactView) -> dict[str, Any]:
    return {
        "address": view.address,
        "original": view.original,
        "country": view.country,
        "source": view.source,
        "created_at": view.created_at,
        "last_engaged_at": view.last_engaged_at,
        "consents": view.consents,
        "history": [asdict(e) for e in view.events],
        "relationships": view.relationships,
        "suppressions": [asdict(s) for s in view.suppressions],
    }
