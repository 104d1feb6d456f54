"""Decision table: United States (policies/us.toml). Each case names the rule that must decide."""

# A decision table reads best one row per line.
# ruff: noqa: E501

from __future__ import annotations

import pytest

from gateway.policy import Suppression
from tests.policy.table import (
    BOUNCE,
    COMPLAINT,
    CUSTOMER,
    ERASED,
    FAN,
    NOBODY,
    Case,
    check,
    msg,
    params,
    pending,
    who,
)

CASES: list[Case] = [
    Case("us nobody marketing", "us", NOBODY, msg("marketing"), "allow:opt-out-regime", "us.marketing.opt-out-regime"),
    Case("us no postal address", "us", NOBODY, msg("marketing", has_postal_address=False), "deny:missing-postal-address", "us.content.postal-address"),
    Case("us no ad label", "us", NOBODY, msg("marketing", subject="Summer shoes"), "deny:missing-subject-label", "us.content.subject-label"),
    Case("us no ad label, consented", "us", FAN, msg("marketing", subject="Summer shoes"), "allow:opt-out-regime", "us.marketing.opt-out-regime"),
    Case("us no link", "us", NOBODY, msg("marketing", has_unsubscribe_link=False), "deny:missing-unsubscribe-link", "us.content.unsubscribe-link"),
    Case("us unsubscribed", "us", who(Suppression("all", "unsubscribed")), msg("marketing"), "deny:unsubscribed", "us.suppression.unsubscribed"),
    Case("us objected", "us", who(Suppression("marketing", "objected")), msg("marketing"), "deny:objected", "us.suppression.objected"),
    Case("us complaint", "us", who(COMPLAINT), msg("survey"), "deny:complaint", "us.suppression.complaint"),
    Case("us erased", "us", who(ERASED), msg("transactional"), "deny:erased", "us.suppression.erased"),
    Case("us invalid address", "us", who(valid=False), msg("marketing"), "deny:invalid-address", "us.address.invalid"),
    Case("us survey", "us", NOBODY, msg("survey", subject="How did we do?", has_postal_address=False), "allow:opt-out-regime", "us.survey.opt-out-regime"),
    Case("us greeting", "us", NOBODY, msg("greeting"), "allow:opt-out-regime", "us.marketing.opt-out-regime"),
    Case("us service customer", "us", CUSTOMER, msg("service"), "allow:customer", "us.service.customer"),
    Case("us service non-customer", "us", NOBODY, msg("service"), "allow:opt-out-regime", "us.marketing.opt-out-regime"),
    Case("us partner", "us", NOBODY, msg("partner-marketing", partner="acme"), "allow:opt-out-regime", "us.partner-marketing.opt-out-regime"),
    Case("us purchased list", "us", who(source="purchased-list"), msg("marketing"), "deny:purchased-list", "us.sources.purchased-list"),
    Case("us public source", "us", who(source="public-source"), msg("marketing"), "allow:opt-out-regime", "us.marketing.opt-out-regime"),
    Case("us transactional", "us", NOBODY, msg("transactional"), "allow:transactional", "us.transactional.transactional"),
    Case("us hard bounce transactional", "us", who(BOUNCE), msg("transactional"), "deny:hard-bounce", "us.suppression.hard-bounce"),
    Case("us confirmation", "us", who(pending(1)), msg("confirmation"), "allow:pending-confirmation", "us.confirmation.pending-confirmation"),
    Case("us consent-request", "us", NOBODY, msg("consent-request"), "allow:opt-out-regime", "us.marketing.opt-out-regime"),
]  # fmt: skip


@pytest.mark.parametrize("case", params(CASES))
def test_decision(case: Case) -> None:
    check(case)
