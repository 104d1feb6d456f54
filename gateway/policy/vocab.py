"""The policy's words, defined once.

Configuration, the store, the CLI and the web pages import these rather than copy them, so a
purpose, reason or mode added here is known everywhere at once. Nothing here imports.
"""

from __future__ import annotations

PURPOSES: tuple[str, ...] = (
    "transactional",
    "confirmation",
    "service",
    "survey",
    "greeting",
    "consent-request",
    "marketing",
    "partner-marketing",
)
"""Message classes, least strict first (docs/design.md §2)."""

DENY_REASONS: tuple[str, ...] = (
    # reported in this order when several apply (docs/design.md §3)
    "invalid-address",
    "erased",
    "hard-bounce",
    "complaint",
    "unsubscribed",
    "objected",
    "purchased-list",
    "no-consent",
    "consent-withdrawn",
    "consent-expired",
    "consent-unproven",
    "double-opt-in-required",
    "soft-opt-in-expired",
    "soft-opt-in-dissimilar",
    "not-a-customer",
    "partner-not-consented",
    "missing-unsubscribe-link",
    "missing-sender-identification",
    "missing-postal-address",
    "missing-subject-label",
)

SUPPRESSION_REASONS: tuple[str, ...] = (
    "hard-bounce",
    "complaint",
    "unsubscribed",
    "objected",
    "erased",
)
"""Suppression reasons; every policy has a [suppressions.<reason>] rule for each."""

MANUAL_SUPPRESSION_REASONS: tuple[str, ...] = (
    "unsubscribed",
    "objected",
    "hard-bounce",
    "complaint",
)
"""Those an operator may record by hand (CLI, API); erasure has its own command."""

SUPPRESSION_BLOCKS: tuple[str, ...] = ("everything", "non-transactional", "scope")

RELATIONSHIP_KINDS: tuple[str, ...] = ("purchase", "inquiry")
"""Kinds of customer relationship a contact may have (imports and relationship bases)."""

COMBINE_MODES: tuple[str, ...] = ("recipient", "strictest")
"""`policy.combine`: the recipient's policy alone, or it and the sender's, strictest wins."""

UNSUBSCRIBE_MIN_DAYS = 60
"""CASL s.11(3): an unsubscribe mechanism must keep working at least 60 days after sending."""


def strictness(purpose: str) -> int:
    """Rank of a purpose; a higher rank is stricter."""
    return PURPOSES.index(purpose)
