"""Decision table: Poland: no soft opt-in (policies/pl.toml). Each case names the rule that must decide."""

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
    consent,
    msg,
    params,
    who,
)

CASES: list[Case] = [
    Case("pl past customer marketing", "pl", CUSTOMER, msg("marketing"), "deny:no-consent", "pl.marketing.consent"),
    Case("pl consent marketing", "pl", FAN, msg("marketing"), "allow:consent", "pl.marketing.consent"),
    Case("pl survey customer", "pl", CUSTOMER, msg("survey"), "allow:legitimate-interest", "pl.survey.legitimate-interest"),
    Case("pl survey non-customer", "pl", NOBODY, msg("survey"), "deny:no-consent", "pl.marketing.consent"),
    Case("pl survey customer no link", "pl", CUSTOMER, msg("survey", has_unsubscribe_link=False), "deny:missing-unsubscribe-link", "eu.content.unsubscribe-link"),
    Case("pl greeting customer", "pl", CUSTOMER, msg("greeting"), "deny:no-consent", "pl.marketing.consent"),
    Case("pl service customer", "pl", CUSTOMER, msg("service"), "allow:customer", "eu.service.customer"),
    Case("pl partner consent", "pl", who(consent("partners")), msg("partner-marketing", partner="acme"), "allow:consent", "eu.partner-marketing.consent"),
]  # fmt: skip


@pytest.mark.parametrize("case", params(CASES))
def test_decision(case: Case) -> None:
    check(case)
