"""`gatekeeper log` filters as the API and the dashboard read them."""

from __future__ import annotations

import pytest

from gateway.consent.decision_filters import decision_query


def test_recipient_is_matched_by_its_canonical_key() -> None:
    # rows hold canonical(): case-folded local part (ß -> ss), IDNA domain
    assert decision_query({"recipient": "Straße@Bücher.Example"}).recipient == (
        "strasse@xn--bcher-kva.example"
    )
    assert decision_query({"recipient": "Ann.Person@Example.COM"}).recipient == (
        "ann.person@example.com"
    )
    assert decision_query({"recipient": "Not An Address"}).recipient == "not an address"


def test_values_are_read_as_the_log_command_reads_them() -> None:
    query = decision_query(
        {
            "since": "2025",
            "jurisdiction": "EU",
            "message_id": "<a@b>",
            "action": "",
            "phase": "data",
        }
    )
    assert (query.since, query.jurisdiction, query.message_id) == (
        "2025-01-01T00:00:00.000Z",
        "eu",
        "a@b",
    )
    assert query.action is None and query.phase == "data"
    with pytest.raises(ValueError, match=r"^until 'tomorrow'"):
        decision_query({"until": "tomorrow"}, prefix="")
