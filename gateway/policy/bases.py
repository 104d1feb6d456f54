"""The allow bases a policy file can list, each one class registered in BASES by name.

Adding a basis: write a Basis subclass here (its `name`, its parameters as dataclass fields
with their checks in `keys`, `evaluate` and `terms`), put it in BASES where it ranks, add any
new deny reason to vocab.DENY_REASONS, and cover it with table cases under tests/policy/.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, ClassVar, Self

from gateway.policy import checks
from gateway.policy.checks import Check
from gateway.policy.facts import Consent, Relationship
from gateway.policy.rules import Basis, Context, Finding, rule_args
from gateway.policy.vocab import DENY_REASONS

DEFAULT_TOPICS: tuple[str, ...] = ("{topic}", "marketing")


@dataclass(frozen=True, slots=True)
class ConsentBasis(Basis):
    """Consent for the message's topic (or the templates a file names)."""

    name: ClassVar[str] = "consent"
    keys: ClassVar[Mapping[str, Check]] = MappingProxyType(
        {
            "double_opt_in": checks.boolean,
            "proof": checks.boolean,
            "topics": checks.topics,
            "missing": checks.one_of(DENY_REASONS),
        }
    )
    double_opt_in: bool = False
    proof: bool = False
    topics: tuple[str, ...] = DEFAULT_TOPICS
    """Consent topics that count; "{topic}" and "{partner}" are filled from the message."""
    missing: str = "no-consent"

    def evaluate(self, ctx: Context) -> Basis | list[Finding]:
        matching = ctx.consents_for(self.topics)
        if not matching:
            return [Finding(self.missing, self, absent=True)]
        problems = [self._problems(ctx, consent) for consent in matching]
        if not all(problems):
            return self
        return [Finding(reason, self) for reasons in problems for reason in reasons]

    def _problems(self, ctx: Context, consent: Consent) -> list[str]:
        if consent.withdrawn:
            return ["consent-withdrawn"]
        failed = {
            "consent-expired": ctx.inactive,
            "double-opt-in-required": self.double_opt_in and consent.double_opt_in_at is None,
            "consent-unproven": self.proof and not consent.has_proof,
        }
        return [reason for reason, is_failed in failed.items() if is_failed]

    def terms(self) -> str:
        flags = {"double opt-in": self.double_opt_in, "proof recorded": self.proof}
        return "; ".join(
            [f"topics {', '.join(self.topics)}", *(f for f, on in flags.items() if on)]
        )


def _months_before(moment: datetime, months: int) -> datetime:
    year, month0 = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month0 + 1)[1])
    return moment.replace(year=year, month=month0 + 1, day=day)


def _similar(relationships: Iterable[Relationship], category: str | None) -> bool:
    if category is None:
        return False
    wanted = category.lower()
    return any(wanted in {c.lower() for c in r.categories} for r in relationships)


@dataclass(frozen=True, slots=True)
class RelationshipBasis(Basis):
    """A recent enough purchase or inquiry; the subclasses differ in what a failure reports."""

    keys: ClassVar[Mapping[str, Check]] = MappingProxyType(
        {"window_months": checks.window_months, "similar": checks.boolean}
    )
    none_reason: ClassVar[str]
    """Reported when the contact has no relationship of an accepted kind."""
    expired_reason: ClassVar[str]
    """Reported when every such relationship is older than its window."""
    window_months: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({"purchase": 24})
    )
    """Accepted relationship kinds and how many months each lasts."""
    similar: bool = False

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> Self:
        args = rule_args(table)
        if "window_months" in args:
            args["window_months"] = MappingProxyType(dict(args["window_months"]))
        return cls(**args)

    def evaluate(self, ctx: Context) -> Basis | list[Finding]:
        windows = self.window_months
        known = [r for r in ctx.recipient.relationships if r.kind in windows]
        if not known:
            return [Finding(self.none_reason, self, absent=True)]
        current = [r for r in known if r.last_at >= _months_before(ctx.now, windows[r.kind])]
        if not current:
            return [Finding(self.expired_reason, self)]
        if self.similar and not _similar(current, ctx.message.category):
            return [Finding("soft-opt-in-dissimilar", self)]
        return self

    def terms(self) -> str:
        windows = ", ".join(f"{kind} {n} months" for kind, n in self.window_months.items())
        return windows + ("; similar products only" if self.similar else "")


@dataclass(frozen=True, slots=True)
class SoftOptIn(RelationshipBasis):
    name: ClassVar[str] = "soft-opt-in"
    none_reason: ClassVar[str] = "no-consent"
    expired_reason: ClassVar[str] = "soft-opt-in-expired"


@dataclass(frozen=True, slots=True)
class ImpliedConsent(RelationshipBasis):
    name: ClassVar[str] = "implied-consent"
    none_reason: ClassVar[str] = "no-consent"
    expired_reason: ClassVar[str] = "consent-expired"


@dataclass(frozen=True, slots=True)
class LegitimateInterest(RelationshipBasis):
    name: ClassVar[str] = "legitimate-interest"
    none_reason: ClassVar[str] = "not-a-customer"
    expired_reason: ClassVar[str] = "not-a-customer"


@dataclass(frozen=True, slots=True)
class Customer(RelationshipBasis):
    name: ClassVar[str] = "customer"
    none_reason: ClassVar[str] = "not-a-customer"
    expired_reason: ClassVar[str] = "not-a-customer"


@dataclass(frozen=True, slots=True)
class PendingConfirmation(Basis):
    """An unconfirmed, unwithdrawn consent granted within the window: the one mail asking
    to confirm it."""

    name: ClassVar[str] = "pending-confirmation"
    keys: ClassVar[Mapping[str, Check]] = MappingProxyType({"window_hours": checks.positive_int})
    window_hours: int = 48

    def evaluate(self, ctx: Context) -> Basis | list[Finding]:
        pending = [
            c.granted_at
            for c in ctx.recipient.consents
            if c.granted_at is not None and c.double_opt_in_at is None and not c.withdrawn
        ]
        if not pending:
            return [Finding("no-consent", self, absent=True)]
        if max(pending) < ctx.now - timedelta(hours=self.window_hours):
            return [Finding("consent-expired", self)]
        return self

    def terms(self) -> str:
        return f"granted within {self.window_hours} h"


@dataclass(frozen=True, slots=True)
class Transactional(Basis):
    """Needs nothing beyond the suppression checks."""

    name: ClassVar[str] = "transactional"

    def evaluate(self, ctx: Context) -> Basis | list[Finding]:
        return self


@dataclass(frozen=True, slots=True)
class OptOutRegime(Basis):
    """Anyone not suppressed may be mailed (CAN-SPAM)."""

    name: ClassVar[str] = "opt-out-regime"

    def evaluate(self, ctx: Context) -> Basis | list[Finding]:
        return self


def _registry(*classes: type[Basis]) -> Mapping[str, type[Basis]]:
    return MappingProxyType({cls.name: cls for cls in classes})


BASES: Mapping[str, type[Basis]] = _registry(
    ConsentBasis,
    SoftOptIn,
    ImpliedConsent,
    LegitimateInterest,
    Customer,
    Transactional,
    PendingConfirmation,
    OptOutRegime,
)
"""Every basis by the name policy files use, in order of preference: when several hold, the
first is the one reported."""

ALLOW_BASES: tuple[str, ...] = tuple(BASES)
