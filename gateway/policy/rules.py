"""The loaded form of a policy: rules with their ids and citations, and the two kinds of rule
a policy file can add to (bases and content requirements).

A basis or a requirement is one class: its parameters (checked when a file is loaded), what it
means for a recipient and a message, and how `policy show` describes it. bases.py and
requirements.py hold them and register each by the name files use.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Self

from gateway.policy.checks import Check
from gateway.policy.facts import Consent, Content, MessageFacts, RecipientFacts

NO_KEYS: Mapping[str, Check] = MappingProxyType({})


class PolicyError(Exception):
    """One or more problems in policy files, each as "FILE:LINE: KEY: what is wrong"."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    cite: str


def rule_args(table: Mapping[str, Any]) -> dict[str, Any]:
    """A rule table's keys as constructor arguments (TOML lists become tuples)."""
    return {key: tuple(v) if isinstance(v, list) else v for key, v in table.items()}


@dataclass(frozen=True, slots=True)
class SourceRule(Rule):
    deny: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class SuppressionRule(Rule):
    blocks: str = "scope"


@dataclass(frozen=True, slots=True)
class Context:
    """One decision's facts under one policy, as bases and requirements read them."""

    recipient: RecipientFacts
    message: MessageFacts
    now: datetime
    inactive: bool
    """The contact's consents have lapsed for inactivity (policy.inactive_after_days)."""

    def consents_for(self, templates: Iterable[str]) -> list[Consent]:
        """The contact's consents whose topic a template names; "{topic}" and "{partner}"
        are filled from the message, and a template needing one the message lacks is
        skipped."""
        topic, partner = self.message.topic, self.message.partner
        wanted = {
            template.format(topic=topic, partner=partner).lower()
            for template in templates
            if (topic or "{topic}" not in template) and (partner or "{partner}" not in template)
        }
        return [c for c in self.recipient.consents if c.topic.lower() in wanted]


@dataclass(frozen=True, slots=True)
class Finding:
    reason: str
    rule: Rule
    absent: bool = False
    """The basis found nothing to go on (no such consent or relationship)."""


@dataclass(frozen=True, slots=True)
class Basis(Rule, ABC):
    """An allow basis, [<purpose>.<name>] in a policy file."""

    name: ClassVar[str]
    keys: ClassVar[Mapping[str, Check]] = NO_KEYS
    """Checks of the parameters a file may set beyond id and cite."""

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> Self:
        return cls(**rule_args(table))

    @abstractmethod
    def evaluate(self, ctx: Context) -> Basis | list[Finding]:
        """The basis itself when it holds, else why not (never an empty list)."""

    def terms(self) -> str:
        """Its parameters in words, for `policy show`; empty when it has none."""
        return ""


@dataclass(frozen=True, slots=True)
class Requirement(Rule, ABC):
    """A content requirement, [content.<name>] in a policy file."""

    name: ClassVar[str]
    reason: ClassVar[str]
    """The deny reason when the message does not meet it (one of DENY_REASONS)."""
    keys: ClassVar[Mapping[str, Check]] = NO_KEYS

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> Self:
        return cls(**rule_args(table))

    @abstractmethod
    def met(self, ctx: Context, content: Content) -> bool:
        """Ask `content` only for the finding this requirement needs: the others may never be
        worked out."""

    def terms(self) -> str:
        return ""


@dataclass(frozen=True, slots=True)
class PurposePolicy(Rule):
    purpose: str = ""
    bases: Mapping[str, Basis] = field(default_factory=lambda: MappingProxyType({}))
    treat_as: str | None = None
    content: tuple[Requirement, ...] = ()


@dataclass(frozen=True, slots=True)
class Policy:
    code: str
    name: str
    source: Path
    extends: str | None
    address: Rule
    sources: SourceRule
    suppressions: Mapping[str, SuppressionRule]
    purposes: Mapping[str, PurposePolicy]
