"""The classifier reads the status code and the diagnostic text together."""

from __future__ import annotations

import pytest

from gateway.reports import classify
from gateway.reports.model import HARD, SENDER, SOFT


@pytest.mark.parametrize(
    ("action", "status", "text", "outcome", "rule"),
    [
        ("failed", "5.1.1", "550 5.1.1 <a@b.example>: mailbox full", SOFT, "quota"),
        ("failed", "5.1.1", "550 5.1.1 User unknown", HARD, "unknown-user"),
        ("failed", "5.1.1", "", HARD, "status 5.1.1"),
        (
            "failed",
            "5.4.1",
            "Recipient address rejected: Access denied. AS(201806281)",
            HARD,
            "unknown-user",
        ),
        ("failed", "5.7.1", "Recipient address rejected: Access denied", SENDER, "status 5.7.1"),
        (
            "failed",
            "5.7.26",
            "Unauthenticated email is not accepted due to DMARC",
            SENDER,
            "authentication",
        ),
        (
            "failed",
            "5.7.515",
            "Access denied, sending domain doesn't meet the required authentication level",
            SENDER,
            "authentication",
        ),
        (
            "failed",
            "5.7.1",
            "Client host [203.0.113.5] blocked using zen.spamhaus.org",
            SENDER,
            "block-list",
        ),
        ("failed", "5.7.1", "Relay access denied", SENDER, "relay-denied"),
        ("failed", "5.1.8", "Sender address rejected: Domain not found", SENDER, "sender-rejected"),
        ("delayed", "4.1.1", "450 4.1.1 User unknown in virtual mailbox table", SOFT, "transient"),
        ("failed", "4.4.7", "delivery time expired", SOFT, "transient"),
        ("failed", "5.0.0", "Greylisted, please try again later", SOFT, "greylisted"),
        ("failed", "5.0.0", "", SOFT, "undetermined"),
        ("failed", "", "", SOFT, "undetermined"),
        ("failed", "5.2.2", "", SOFT, "subject 2"),
        ("failed", "5.3.4", "", SENDER, "too large"),
        ("failed", "5.0.0", "User not listed in Domino Directory", HARD, "unknown-user"),
        ("failed", "5.0.0", "Host or domain name not found", HARD, "unknown-domain"),
        ("failed", "5.1.6", "User has moved", HARD, "moved"),
        ("failed", "5.2.1", "This account has been disabled", HARD, "disabled"),
    ],
)
def test_classify(action: str, status: str, text: str, outcome: str, rule: str) -> None:
    got, why = classify(action, status, text)
    assert (got, rule in why) == (outcome, True), why
