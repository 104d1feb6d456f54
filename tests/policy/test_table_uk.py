"""Decision table: United Kingdom (policies/uk.toml). Each case names the rule that must decide."""

# A decision table reads best one row per line.
# ruff: noqa: E501

from __future__ import annotations

import pytest

from tests.policy.table import (
    CUSTOMER,
    FAN,
    NOBODY,
    Case,
    check,
    inquiry,
    msg,
    params,
    who,
)

CASES: list[Case] = [
    Case("uk consent-request nobody", "uk", NOBODY, msg("consent-request"), "deny:no-consent", "uk.marketing.consent"),
    Case("uk negotiation soft opt-in", "gb", who(inquiry()), msg("marketing"), "allow:soft-opt-in", "uk.marketing.soft-opt-in"),
    Case("uk consent marketing", "uk", FAN, msg("marketing"), "allow:consent", "uk.marketing.consent"),
    Case("uk survey customer", "uk", CUSTOMER, msg("survey"), "allow:legitimate-interest", "uk.survey.legitimate-interest"),
    Case("uk survey nobody", "uk", NOBODY, msg("survey"), "deny:no-consent", "uk.marketing.consent"),
    Case("uk greeting consent", "gb", FAN, msg("greeting"), "allow:consent", "uk.marketing.consent"),
    Case("uk transactional", "uk", NOBODY, msg("transactional"), "allow:transactional", "eu.transactional.transactional"),
]  # fmt: skip


@pytest.mark.parametrize("case", params(CASES))
def test_decision(case: Case) -> None:
    check(case)
