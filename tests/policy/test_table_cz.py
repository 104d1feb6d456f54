"""Decision table: Czech Republic (policies/cz.toml). Each case names the rule that must decide."""

# A decision table reads best one row per line.
# ruff: noqa: E501

from __future__ import annotations

import pytest

from gateway.policy import Suppression
from tests.policy.table import (
    BOUNCE,
    CUSTOMER,
    FAN,
    NOBODY,
    Case,
    check,
    consent,
    msg,
    params,
    purchase,
    who,
)

CASES: list[Case] = [
    Case("cz soft opt-in similar", "cz", CUSTOMER, msg("marketing"), "allow:soft-opt-in", "cz.marketing.soft-opt-in"),
    Case("cz soft opt-in dissimilar", "cz", CUSTOMER, msg("marketing", category="tents"), "deny:soft-opt-in-dissimilar", "cz.marketing.soft-opt-in"),
    Case("cz soft opt-in expired", "cz", who(purchase(800)), msg("marketing"), "deny:soft-opt-in-expired", "cz.marketing.soft-opt-in"),
    Case("cz consent marketing", "cz", FAN, msg("marketing"), "allow:consent", "cz.marketing.consent"),
    Case("cz nobody marketing", "cz", NOBODY, msg("marketing"), "deny:no-consent", "cz.marketing.consent"),
    Case("cz unsubscribed marketing, outage notice", "cz", who(purchase(), Suppression("marketing", "unsubscribed")), msg("service"), "allow:customer", "cz.service.customer"),
    Case("cz service customer no link", "cz", CUSTOMER, msg("service", has_unsubscribe_link=False), "deny:missing-unsubscribe-link", "cz.content.unsubscribe-link"),
    Case("cz unsubscribed marketing, survey", "cz", who(purchase(), Suppression("marketing", "unsubscribed")), msg("survey"), "deny:unsubscribed", "eu.suppression.unsubscribed"),
    Case("cz service non-customer", "cz", NOBODY, msg("service"), "deny:no-consent", "cz.marketing.consent"),
    Case("cz service non-customer with consent", "cz", FAN, msg("service"), "allow:consent", "cz.marketing.consent"),
    Case("cz no subject label", "cz", FAN, msg("marketing", subject="Summer shoes"), "deny:missing-subject-label", "cz.content.subject-label"),
    Case("cz label in From", "cz", FAN, msg("marketing", subject="Summer shoes", from_header="Shop newsletter <n@shop.cz>"), "allow:consent", "cz.marketing.consent"),
    Case("cz label word not a substring", "cz", FAN, msg("marketing", subject="Cosmos shoes"), "deny:missing-subject-label", "cz.content.subject-label"),
    Case("cz no sender identification", "cz", FAN, msg("marketing", has_sender_identification=False), "deny:missing-sender-identification", "cz.content.sender-identification"),
    Case("cz no unsubscribe link", "cz", CUSTOMER, msg("marketing", has_unsubscribe_link=False), "deny:missing-unsubscribe-link", "cz.content.unsubscribe-link"),
    Case("cz greeting nobody", "cz", NOBODY, msg("greeting"), "deny:no-consent", "cz.marketing.consent"),
    Case("cz survey customer", "cz", CUSTOMER, msg("survey"), "allow:soft-opt-in", "cz.marketing.soft-opt-in"),
    Case("cz consent-request nobody", "cz", NOBODY, msg("consent-request"), "deny:no-consent", "cz.marketing.consent"),
    Case("cz partner consent", "cz", who(consent("partner:acme")), msg("partner-marketing", partner="acme"), "allow:consent", "eu.partner-marketing.consent"),
    Case("cz partner unlabelled", "cz", who(consent("partner:acme")), msg("partner-marketing", partner="acme", subject="Summer shoes"), "deny:missing-subject-label", "cz.content.subject-label"),
    Case("cz public source", "cz", who(consent(), source="public-source"), msg("marketing"), "deny:purchased-list", "eu.sources.purchased-list"),
    Case("cz purchased list transactional", "cz", who(source="purchased-list"), msg("transactional"), "allow:transactional", "eu.transactional.transactional"),
    Case("cz hard bounce marketing", "cz", who(consent(), BOUNCE), msg("marketing"), "deny:hard-bounce", "eu.suppression.hard-bounce"),
]  # fmt: skip


@pytest.mark.parametrize("case", params(CASES))
def test_decision(case: Case) -> None:
    check(case)
