"""Decision table: Germany (policies/de.toml). Each case names the rule that must decide."""

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
    Case("de consent without proof", "de", who(consent(proof=False)), msg("marketing"), "deny:consent-unproven", "de.marketing.consent"),
    Case("de consent unconfirmed", "de", who(consent(confirmed=False)), msg("marketing"), "deny:double-opt-in-required", "de.marketing.consent"),
    Case("de consent confirmed, proven", "de", FAN, msg("marketing"), "allow:consent", "de.marketing.consent"),
    Case("de survey customer", "de", CUSTOMER, msg("survey"), "allow:soft-opt-in", "de.marketing.soft-opt-in"),
    Case("de survey nobody", "de", NOBODY, msg("survey"), "deny:no-consent", "de.marketing.consent"),
    Case("de partner unconfirmed", "de", who(consent("partners", confirmed=False)), msg("partner-marketing"), "deny:double-opt-in-required", "de.partner-marketing.consent"),
    Case("de partner confirmed", "de", who(consent("partners")), msg("partner-marketing", partner="acme"), "allow:consent", "de.partner-marketing.consent"),
    Case("de greeting consent", "de", FAN, msg("greeting"), "allow:consent", "de.marketing.consent"),
]  # fmt: skip


@pytest.mark.parametrize("case", params(CASES))
def test_decision(case: Case) -> None:
    check(case)
