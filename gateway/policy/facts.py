"""What the policy engine sees and what it answers.

The engine is pure: it gets these snapshots, built by the caller from one store look-up per
message, and returns a Verdict. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

# Re-exported: the store, the classifier and the pages import the vocabulary from here.
from gateway.policy.vocab import DENY_REASONS, PURPOSES, strictness

__all__ = [
    "DENY_REASONS",
    "PURPOSES",
    "Consent",
    "Content",
    "MessageFacts",
    "RecipientFacts",
    "Relationship",
    "Suppression",
    "Verdict",
    "strictness",
]

Action = Literal["allow", "deny"]


@dataclass(frozen=True, slots=True)
class Consent:
    """One consent topic of a contact, as its event history stands now."""

    topic: str
    granted_at: datetime | None = None
    double_opt_in_at: datetime | None = None
    withdrawn_at: datetime | None = None
    has_proof: bool = False
    """True when source, time and IP or consent text were recorded with the grant."""

    @property
    def withdrawn(self) -> bool:
        """Withdrawn after (or without) its latest grant: it no longer counts."""
        if self.withdrawn_at is None:
            return False
        return self.granted_at is None or self.withdrawn_at >= self.granted_at


@dataclass(frozen=True, slots=True)
class Relationship:
    kind: str  # "purchase" | "inquiry"
    last_at: datetime
    categories: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Suppression:
    scope: str  # "all", a purpose, or a topic
    reason: str  # a deny reason: hard-bounce, complaint, unsubscribed, objected, erased, ...


@dataclass(frozen=True, slots=True)
class RecipientFacts:
    address: str
    """Canonical address."""
    country: str | None = None
    """ISO 3166-1 alpha-2 of the contact, lower case; None when unknown."""
    known: bool = False
    """A contact row exists."""
    source: str | None = None
    created_at: datetime | None = None
    last_engaged_at: datetime | None = None
    consents: tuple[Consent, ...] = ()
    relationships: tuple[Relationship, ...] = ()
    suppressions: tuple[Suppression, ...] = ()
    valid_address: bool = True


class Content(Protocol):
    """What the body shows, as the content rules ask it (docs/design.md §5). An implementation may
    work a finding out only when it is first asked for: the engine asks only what a rule of
    the recipient's policy needs."""

    @property
    def has_unsubscribe_link(self) -> bool: ...

    @property
    def has_sender_identification(self) -> bool: ...

    @property
    def has_postal_address(self) -> bool: ...

    @property
    def promotional(self) -> bool:
        """Content heuristics found promotional markers."""


@dataclass(frozen=True, slots=True)
class MessageFacts:
    purpose: str
    topic: str | None = None
    category: str | None = None
    partner: str | None = None
    subject: str = ""
    from_header: str = ""
    content: Content | None = None
    """None at RCPT time: the body is not there yet, so content rules wait for DATA."""


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    rule: str
    cite: str
    basis: str | None = None
    reason: str | None = None
    jurisdiction: str = ""
    detail: tuple[str, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return self.action == "allow"
