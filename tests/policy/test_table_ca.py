"""Decision table: Canada (policies/ca.toml). Each case names the rule that must decide."""

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
    consent,
    inquiry,
    msg,
    params,
    pending,
    purchase,
    who,
)

CASES: list[Case] = [
    Case("ca purchase 25 months ago", "ca", who(purchase(25 * 31)), msg("marketing"), "deny:consent-expired", "ca.marketing.implied-consent"),
    Case("ca purchase 23 months ago", "ca", who(purchase(23 * 30)), msg("marketing", category="tents"), "allow:implied-consent", "ca.marketing.implied-consent"),
    Case("ca inquiry 5 months ago", "ca", who(inquiry(5 * 30)), msg("marketing"), "allow:implied-consent", "ca.marketing.implied-consent"),
    Case("ca inquiry 7 months ago", "ca", who(inquiry(7 * 30)), msg("marketing"), "deny:consent-expired", "ca.marketing.implied-consent"),
    Case("ca express consent", "ca", who(consent(days=2000), engaged_days=30), msg("marketing"), "allow:consent", "ca.marketing.consent"),
    Case("ca transactional", "ca", NOBODY, msg("transactional"), "allow:transactional", "ca.transactional.transactional"),
    Case("ca service inquiry", "ca", who(inquiry(60)), msg("service"), "allow:customer", "ca.service.customer"),
    Case("ca service no identification", "ca", CUSTOMER, msg("service", has_sender_identification=False), "deny:missing-sender-identification", "ca.content.sender-identification"),
    Case("ca no postal address", "ca", FAN, msg("marketing", has_postal_address=False), "deny:missing-postal-address", "ca.content.postal-address"),
    Case("ca no unsubscribe link", "ca", FAN, msg("marketing", has_unsubscribe_link=False), "deny:missing-unsubscribe-link", "ca.content.unsubscribe-link"),
    Case("ca confirmation", "ca", who(pending(12)), msg("confirmation"), "allow:pending-confirmation", "ca.confirmation.pending-confirmation"),
    Case("ca consent-request nobody", "ca", NOBODY, msg("consent-request"), "deny:no-consent", "ca.marketing.consent"),
    Case("ca survey nobody", "ca", NOBODY, msg("survey"), "deny:no-consent", "ca.marketing.consent"),
    Case("ca greeting customer", "ca", CUSTOMER, msg("greeting"), "allow:implied-consent", "ca.marketing.implied-consent"),
    Case("ca partner", "ca", who(consent("partner:acme")), msg("partner-marketing", partner="acme"), "allow:consent", "ca.partner-marketing.consent"),
    Case("ca invalid address", "ca", who(valid=False), msg("transactional"), "deny:invalid-address", "ca.address.invalid"),
    Case("ca purchased list", "ca", who(consent(), source="purchased-list"), msg("marketing"), "deny:purchased-list", "ca.sources.purchased-list"),
    Case("ca hard bounce", "ca", who(BOUNCE), msg("transactional"), "deny:hard-bounce", "ca.suppression.hard-bounce"),
    Case("ca complaint", "ca", who(consent(), COMPLAINT), msg("marketing"), "deny:complaint", "ca.suppression.complaint"),
    Case("ca unsubscribed", "ca", who(consent(), Suppression("all", "unsubscribed")), msg("marketing"), "deny:unsubscribed", "ca.suppression.unsubscribed"),
    Case("ca objected", "ca", who(purchase(), Suppression("service", "objected")), msg("service"), "deny:objected", "ca.suppression.objected"),
    Case("ca erased", "ca", who(ERASED), msg("transactional"), "deny:erased", "ca.suppression.erased"),
]  # fmt: skip


@pytest.mark.parametrize("case", params(CASES))
def test_decision(case: Case) -> None:
    check(case)
