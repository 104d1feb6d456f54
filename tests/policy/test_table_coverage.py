"""The decision tables as a whole: every rule written in policies/*.toml is exercised by a
case of its file's table, and together the tables reach every basis and deny reason."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from gateway.policy import ALLOW_BASES, DENY_REASONS
from tests.policy.table import SHIPPED, Case, undecided

CODES = sorted(path.stem for path in SHIPPED.glob("*.toml"))


def _table(code: str) -> list[Case]:
    # The tables are data of their own test modules; this meta-test reads them, nothing else.
    cases: list[Case] = importlib.import_module(f"tests.policy.test_table_{code}").CASES
    return cases


def test_every_policy_file_has_a_table() -> None:
    here = Path(__file__).parent
    assert [code for code in CODES if not (here / f"test_table_{code}.py").exists()] == []


@pytest.mark.parametrize("code", CODES)
def test_every_rule_of_the_file_decides_a_case(code: str) -> None:
    """A basis, suppression, source, address or content rule must decide some case; a purpose
    rule (which never decides itself) must be applied by one."""
    assert undecided(code, _table(code)) == []


def test_tables_reach_every_basis_and_reason() -> None:
    cases = [case for code in CODES for case in _table(code)]
    outcomes = {case.expect.partition(":")[2] for case in cases}
    assert set(ALLOW_BASES) - outcomes == set()
    assert set(DENY_REASONS) - outcomes == set()
    assert len({case.name for case in cases}) == len(cases)
