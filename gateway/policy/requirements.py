"""The content requirements a policy file can list, each one class registered in REQUIREMENTS
by name (docs/design.md §5).

Adding one: a Requirement subclass here (`name`, `reason`, any parameters with their checks
in `keys`, `met` and `terms`), its entry in REQUIREMENTS, its reason in vocab.DENY_REASONS,
and the finding it needs on facts.Content.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

from gateway.policy import checks
from gateway.policy.bases import DEFAULT_TOPICS
from gateway.policy.checks import Check
from gateway.policy.facts import Content
from gateway.policy.rules import Context, Requirement


@dataclass(frozen=True, slots=True)
class UnsubscribeLink(Requirement):
    name: ClassVar[str] = "unsubscribe-link"
    reason: ClassVar[str] = "missing-unsubscribe-link"

    def met(self, ctx: Context, content: Content) -> bool:
        return content.has_unsubscribe_link


@dataclass(frozen=True, slots=True)
class SenderIdentification(Requirement):
    name: ClassVar[str] = "sender-identification"
    reason: ClassVar[str] = "missing-sender-identification"

    def met(self, ctx: Context, content: Content) -> bool:
        return content.has_sender_identification


@dataclass(frozen=True, slots=True)
class PostalAddress(Requirement):
    name: ClassVar[str] = "postal-address"
    reason: ClassVar[str] = "missing-postal-address"

    def met(self, ctx: Context, content: Content) -> bool:
        return content.has_postal_address


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE) is not None


@dataclass(frozen=True, slots=True)
class SubjectLabel(Requirement):
    """One of `words` in the subject (or the From header too): reads the message, not the
    body findings."""

    name: ClassVar[str] = "subject-label"
    reason: ClassVar[str] = "missing-subject-label"
    keys: ClassVar[Mapping[str, Check]] = MappingProxyType(
        {
            "words": checks.list_of(None),
            "fields": checks.list_of(("subject", "from")),
            "unless_consent": checks.boolean,
        }
    )
    words: tuple[str, ...] = ()
    fields: tuple[str, ...] = ("subject",)
    unless_consent: bool = False

    def met(self, ctx: Context, content: Content) -> bool:
        if self.unless_consent and _affirmative_consent(ctx):
            return True
        message = ctx.message
        values = {"subject": message.subject, "from": message.from_header}
        return any(_has_word(values[name], word) for name in self.fields for word in self.words)

    def terms(self) -> str:
        unless = "; not needed with consent" if self.unless_consent else ""
        return f"one of {', '.join(self.words)} in {', '.join(self.fields)}{unless}"


def _affirmative_consent(ctx: Context) -> bool:
    return not ctx.inactive and any(not c.withdrawn for c in ctx.consents_for(DEFAULT_TOPICS))


REQUIREMENTS: Mapping[str, type[Requirement]] = MappingProxyType(
    {cls.name: cls for cls in (UnsubscribeLink, SenderIdentification, PostalAddress, SubjectLabel)}
)
"""Every content requirement by the name policy files use."""
