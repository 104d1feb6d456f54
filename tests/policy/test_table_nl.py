"""Decision table: Netherlands (policies/nl.toml). Each case names the rule that must decide."""

# A decision table reads best one row per line.
# ruff: noqa: E501

from __future__ import annotations

import pytest

from tests.policy.table import (
    CUSTOMER,
    NOBODY,
    Case,
    check,
    consent,
    inquiry,
    msg,
    params,
    who,
)

CASES: list[Case] = [
    Case("nl inquiry only", "nl", who(inquiry()), msg("marketing"), "deny:no-consent", "nl.marketing.consent"),
    Case("nl soft opt-in, partner", "nl", CUSTOMER, msg("partner-marketing", partner="acme"), "deny:partner-not-consented", "eu.partner-marketing.consent"),
    Case("nl soft opt-in", "nl", CUSTOMER, msg("marketing"), "allow:soft-opt-in", "nl.marketing.soft-opt-in"),
    Case("nl soft opt-in dissimilar", "nl", CUSTOMER, msg("marketing", category="tents"), "deny:soft-opt-in-dissimilar", "nl.marketing.soft-opt-in"),
    Case("nl consent-request nobody", "nl", NOBODY, msg("consent-request"), "deny:no-consent", "nl.marketing.consent"),
    Case("nl consent without proof", "nl", who(consent(proof=False)), msg("marketing"), "allow:consent", "nl.marketing.consent"),
]  # fmt: skip


@pytest.mark.parametrize("case", params(CASES))
def test_decision(case: Case) -> None:
    check(case)
