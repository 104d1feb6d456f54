"""Decision-table helpers shared by tests/policy/test_table_*.py: facts builders, the Case
type, and the check that a case was decided by the rule it names, with that rule's citation
as written in policies/*.toml."""

from __future__ import annotations

import functools
import re
import shutil
import tempfile
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.policy import (
    Consent,
    MessageFacts,
    Policy,
    RecipientFacts,
    Relationship,
    Settings,
    Suppression,
    Verdict,
    decide,
    default_policy_dir,
    load_policies,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SHIPPED = default_policy_dir()
POLICIES = load_policies(SHIPPED)
SETTINGS = Settings()
POLICY_OF_COUNTRY = {"fr": "eu", "gb": "uk"}

PROBE = "zz"
"""A policy that is not shipped: it extends eu and requires the one [content.*] table eu.toml
offers only to files extending it (no shipped purpose lists it)."""
_PROBE_FILE = """extends = "eu"
[marketing]
id = "zz.marketing"
cite = "test probe"
bases = ["consent", "soft-opt-in"]
content = ["unsubscribe-link", "sender-identification"]
"""


def _rule_tables(table: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    if "id" in table:
        yield table
    for value in table.values():
        if isinstance(value, dict):
            yield from _rule_tables(value)


def rule_cites(code: str) -> dict[str, str]:
    """Every rule id written in policies/<code>.toml with its cite, read without the loader."""
    raw = tomllib.loads((SHIPPED / f"{code}.toml").read_text(encoding="utf-8"))
    return {table["id"]: table["cite"] for table in _rule_tables(raw)}


CITES: dict[str, str] = {
    rule: cite for path in SHIPPED.glob("*.toml") for rule, cite in rule_cites(path.stem).items()
}


@functools.cache
def probed_policies() -> dict[str, Policy]:
    with tempfile.TemporaryDirectory() as directory:
        for path in SHIPPED.glob("*.toml"):
            shutil.copy(path, directory)
        (Path(directory) / f"{PROBE}.toml").write_text(_PROBE_FILE, encoding="utf-8")
        return load_policies(Path(directory))


def ago(*, days: int = 0, hours: int = 0) -> datetime:
    return NOW - timedelta(days=days, hours=hours)


def consent(
    topic: str = "marketing",
    *,
    days: int = 30,
    confirmed: bool = True,
    proof: bool = True,
    withdrawn: bool = False,
) -> Consent:
    return Consent(
        topic=topic,
        granted_at=ago(days=days),
        double_opt_in_at=ago(days=days) if confirmed else None,
        withdrawn_at=ago(days=1) if withdrawn else None,
        has_proof=proof,
    )


def pending(hours: int) -> Consent:
    return Consent(topic="newsletter", granted_at=ago(hours=hours), has_proof=True)


def purchase(days: int = 90, *categories: str) -> Relationship:
    return Relationship("purchase", ago(days=days), frozenset(categories or ("shoes",)))


def inquiry(days: int = 30) -> Relationship:
    return Relationship("inquiry", ago(days=days), frozenset({"shoes"}))


def who(
    *facts: Consent | Relationship | Suppression,
    source: str | None = None,
    valid: bool = True,
    engaged_days: int | None = None,
) -> RecipientFacts:
    """A contact; the country is filled in per case."""
    return RecipientFacts(
        address="someone@example.com",
        known=True,
        source=source,
        last_engaged_at=ago(days=engaged_days) if engaged_days is not None else None,
        consents=tuple(f for f in facts if isinstance(f, Consent)),
        relationships=tuple(f for f in facts if isinstance(f, Relationship)),
        suppressions=tuple(f for f in facts if isinstance(f, Suppression)),
        valid_address=valid,
    )


@dataclass(frozen=True)
class Findings:
    """What the body shows (facts.Content), as the table states it."""

    has_unsubscribe_link: bool = True
    has_sender_identification: bool = True
    has_postal_address: bool = True
    promotional: bool = False


FULL_CONTENT = Findings()


def msg(purpose: str, **overrides: Any) -> MessageFacts:
    """A message meeting every content rule unless overridden (content findings by name)."""
    findings = {k: overrides.pop(k) for k in Findings.__dataclass_fields__ if k in overrides}
    return MessageFacts(
        purpose=purpose,
        category=overrides.pop("category", "shoes"),
        subject=overrides.pop("subject", "Ad: OS summer shoes"),  # labelled for US and CZ
        from_header=overrides.pop("from_header", "Shop <news@shop.example>"),
        content=replace(FULL_CONTENT, **findings),
        **overrides,
    )


NOBODY = who()
CUSTOMER = who(purchase())
FAN = who(consent())
COMPLAINT = Suppression("all", "complaint")
BOUNCE = Suppression("all", "hard-bounce")
ERASED = Suppression("all", "erased")


@dataclass(frozen=True)
class Case:
    name: str
    country: str
    recipient: RecipientFacts
    message: MessageFacts
    expect: str
    """"allow:<basis>" or "deny:<reason>"."""
    rule: str
    """The id of the rule that decides."""

    @property
    def policy(self) -> str:
        return POLICY_OF_COUNTRY.get(self.country, self.country)


def decide_case(case: Case, settings: Settings = SETTINGS) -> Verdict:
    policies = probed_policies() if case.policy == PROBE else POLICIES
    recipient = replace(case.recipient, country=case.country)
    return decide(policies, recipient, case.message, now=NOW, settings=settings)


def check(case: Case) -> Verdict:
    """Decide the case; assert its outcome, deciding rule, that rule's cite and jurisdiction."""
    verdict = decide_case(case)
    got = f"{verdict.action}:{verdict.basis if verdict.allowed else verdict.reason}"
    assert (got, verdict.rule) == (case.expect, case.rule), verdict
    assert verdict.cite == CITES[case.rule]
    assert verdict.jurisdiction == case.policy
    return verdict


def params(cases: Iterable[Case]) -> list[Any]:
    return [pytest.param(case, id=case.name) for case in cases]


_TREATED = re.compile(r"^\S+ treated as (\S+) \(")


def covered(case: Case) -> set[str]:
    """Rule ids the case exercises: the deciding rule, and the purpose rules applied (the
    message's purpose and any it was treated as): purpose rules never decide themselves."""
    verdict = decide_case(case)
    policy = (probed_policies() if case.policy == PROBE else POLICIES)[case.policy]
    purposes = [case.message.purpose]
    purposes += [m[1] for note in verdict.detail if (m := _TREATED.match(note))]
    return {verdict.rule, *(policy.purposes[p].id for p in purposes)}


def undecided(code: str, cases: Iterable[Case]) -> list[str]:
    """Rule ids written in policies/<code>.toml that no case exercises."""
    done = set().union(*(covered(case) for case in cases))
    return sorted(set(rule_cites(code)) - done)
