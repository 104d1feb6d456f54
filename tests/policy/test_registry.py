"""The basis and requirement registries, and the vocabulary they share with the rest."""

from __future__ import annotations

from pathlib import Path

from gateway.policy import ALLOW_BASES, BASES, REQUIREMENTS, lint
from gateway.policy.bases import RelationshipBasis
from gateway.policy.vocab import (
    DENY_REASONS,
    MANUAL_SUPPRESSION_REASONS,
    SUPPRESSION_REASONS,
)


def test_bases_are_registered_by_their_own_name_in_order_of_preference() -> None:
    assert all(name == cls.name for name, cls in BASES.items())
    assert ALLOW_BASES[:2] == ("consent", "soft-opt-in")
    assert ALLOW_BASES[-1] == "opt-out-regime"


def test_every_reason_a_basis_or_requirement_gives_has_a_precedence() -> None:
    relationship = [cls for cls in BASES.values() if issubclass(cls, RelationshipBasis)]
    reasons = {r for cls in relationship for r in (cls.none_reason, cls.expired_reason)}
    reasons |= {cls.reason for cls in REQUIREMENTS.values()}
    assert reasons - set(DENY_REASONS) == set()
    assert all(name == cls.name for name, cls in REQUIREMENTS.items())


def test_the_schema_of_a_basis_comes_from_its_class(tmp_path: Path) -> None:
    (tmp_path / "xx.toml").write_text(
        'name = "X"\n[confirmation.pending-confirmation]\nid = "xx.c.p"\ncite = "c"\n'
        "window_months = 3\n",
        encoding="utf-8",
    )
    problems = lint(tmp_path)
    assert any(
        "confirmation.pending-confirmation.window_months: unknown key; known: id, cite, "
        "window_hours" in problem
        for problem in problems
    ), problems


def test_manual_suppressions_are_suppression_reasons() -> None:
    assert set(MANUAL_SUPPRESSION_REASONS) < set(SUPPRESSION_REASONS)
    assert "erased" not in MANUAL_SUPPRESSION_REASONS
