"""Decision table: EU baseline, for an EU member without a file of its own (France) (policies/eu.toml). Each case names the rule that must decide."""

# A decision table reads best one row per line.
# ruff: noqa: E501

from __future__ import annotations

import pytest

from gateway.policy import PURPOSES, Suppression
from tests.policy.table import (
    BOUNCE,
    COMPLAINT,
    CUSTOMER,
    ERASED,
    FAN,
    NOBODY,
    PROBE,
    Case,
    check,
    consent,
    msg,
    params,
    pending,
    purchase,
    who,
)

CASES: list[Case] = [
    Case("eu consent marketing", "fr", FAN, msg("marketing"), "allow:consent", "eu.marketing.consent"),
    Case("eu soft opt-in", "fr", CUSTOMER, msg("marketing"), "allow:soft-opt-in", "eu.marketing.soft-opt-in"),
    Case("eu nobody marketing", "fr", NOBODY, msg("marketing"), "deny:no-consent", "eu.marketing.consent"),
    Case("eu old purchase", "fr", who(purchase(800)), msg("marketing"), "deny:soft-opt-in-expired", "eu.marketing.soft-opt-in"),
    Case("eu dissimilar", "fr", CUSTOMER, msg("marketing", category="tents"), "deny:soft-opt-in-dissimilar", "eu.marketing.soft-opt-in"),
    Case("eu no category", "fr", CUSTOMER, msg("marketing", category=None), "deny:soft-opt-in-dissimilar", "eu.marketing.soft-opt-in"),
    Case("eu transactional nobody", "fr", NOBODY, msg("transactional"), "allow:transactional", "eu.transactional.transactional"),
    Case("eu confirmation pending", "fr", who(pending(2)), msg("confirmation"), "allow:pending-confirmation", "eu.confirmation.pending-confirmation"),
    Case("eu confirmation stale", "fr", who(pending(72)), msg("confirmation"), "deny:consent-expired", "eu.confirmation.pending-confirmation"),
    Case("eu confirmation nobody", "fr", NOBODY, msg("confirmation"), "deny:no-consent", "eu.confirmation.pending-confirmation"),
    Case("eu confirmation confirmed", "fr", FAN, msg("confirmation"), "deny:no-consent", "eu.confirmation.pending-confirmation"),
    Case("eu service customer", "fr", CUSTOMER, msg("service"), "allow:customer", "eu.service.customer"),
    Case("eu service non-customer", "fr", FAN, msg("service"), "deny:not-a-customer", "eu.service.customer"),
    Case("eu service customer no link", "fr", CUSTOMER, msg("service", has_unsubscribe_link=False), "deny:missing-unsubscribe-link", "eu.content.unsubscribe-link"),
    Case("eu survey consent", "fr", FAN, msg("survey"), "allow:consent", "eu.marketing.consent"),
    Case("eu greeting nobody", "fr", NOBODY, msg("greeting"), "deny:no-consent", "eu.marketing.consent"),
    Case("eu consent-request customer", "fr", CUSTOMER, msg("consent-request"), "allow:soft-opt-in", "eu.marketing.soft-opt-in"),
    Case("eu no unsubscribe link", "fr", FAN, msg("marketing", has_unsubscribe_link=False), "deny:missing-unsubscribe-link", "eu.content.unsubscribe-link"),
    Case("eu withdrawn", "fr", who(consent(withdrawn=True)), msg("marketing"), "deny:consent-withdrawn", "eu.marketing.consent"),
    Case("eu withdrawn but customer", "fr", who(consent(withdrawn=True), purchase()), msg("marketing"), "allow:soft-opt-in", "eu.marketing.soft-opt-in"),
    Case("eu inactive", "fr", who(consent(days=1200)), msg("marketing"), "deny:consent-expired", "eu.marketing.consent"),
    Case("eu old consent, engaged", "fr", who(consent(days=1200), engaged_days=10), msg("marketing"), "allow:consent", "eu.marketing.consent"),
    Case("eu invalid address", "fr", who(valid=False), msg("transactional"), "deny:invalid-address", "eu.address.invalid"),
    Case("eu erased", "fr", who(ERASED), msg("transactional"), "deny:erased", "eu.suppression.erased"),
    Case("eu topic consent", "fr", who(consent("newsletter")), msg("marketing", topic="newsletter"), "allow:consent", "eu.marketing.consent"),
    Case("eu other topic", "fr", who(consent("offers")), msg("marketing", topic="newsletter"), "deny:no-consent", "eu.marketing.consent"),
    Case("eu topic needs consent", "fr", who(consent("newsletter")), msg("marketing"), "deny:no-consent", "eu.marketing.consent"),
    Case("eu marketing covers topic", "fr", FAN, msg("marketing", topic="newsletter"), "allow:consent", "eu.marketing.consent"),
    Case("eu unsubscribed topic", "fr", who(consent(), Suppression("newsletter", "unsubscribed")), msg("marketing", topic="newsletter"), "deny:unsubscribed", "eu.suppression.unsubscribed"),
    Case("eu unsubscribed other topic", "fr", who(consent(), Suppression("newsletter", "unsubscribed")), msg("marketing", topic="offers"), "allow:consent", "eu.marketing.consent"),
    Case("eu objected marketing", "fr", who(purchase(), Suppression("marketing", "objected")), msg("marketing"), "deny:objected", "eu.suppression.objected"),
    Case("eu objected marketing, service", "fr", who(purchase(), Suppression("marketing", "objected")), msg("service"), "allow:customer", "eu.service.customer"),
    Case("eu unsubscribed all, service", "fr", who(purchase(), Suppression("all", "unsubscribed")), msg("service"), "deny:unsubscribed", "eu.suppression.unsubscribed"),
    Case("eu unsubscribed all, transactional", "fr", who(Suppression("all", "unsubscribed")), msg("transactional"), "allow:transactional", "eu.transactional.transactional"),
    Case("eu partners consent", "fr", who(consent("partners")), msg("partner-marketing", partner="acme"), "allow:consent", "eu.partner-marketing.consent"),
    Case("eu named partner", "fr", who(consent("partner:acme")), msg("partner-marketing", partner="Acme"), "allow:consent", "eu.partner-marketing.consent"),
    Case("eu other partner", "fr", who(consent("partner:acme")), msg("partner-marketing", partner="zeta"), "deny:partner-not-consented", "eu.partner-marketing.consent"),
    Case("eu marketing consent, partner", "fr", FAN, msg("partner-marketing", partner="acme"), "deny:partner-not-consented", "eu.partner-marketing.consent"),
    Case("eu complaint marketing", "fr", who(consent(), COMPLAINT), msg("marketing"), "deny:complaint", "eu.suppression.complaint"),
    Case("eu complaint transactional", "fr", who(consent(), COMPLAINT), msg("transactional"), "allow:transactional", "eu.transactional.transactional"),
    Case("eu complaint scoped still blocks", "fr", who(purchase(), Suppression("newsletter", "complaint")), msg("service"), "deny:complaint", "eu.suppression.complaint"),
    # A file extending eu may require sender identification; no shipped purpose does.
    Case("eu sender identification, inherited", PROBE, FAN, msg("marketing", has_sender_identification=False), "deny:missing-sender-identification", "eu.content.sender-identification"),
    # Hard bounce and purchased lists, across purposes
    *(
        Case(f"eu hard bounce {p}", "fr", who(consent(), purchase(), BOUNCE), msg(p), "deny:hard-bounce", "eu.suppression.hard-bounce")
        for p in PURPOSES
    ),
    *(
        Case(f"eu purchased list {p}", "fr", who(consent(), purchase(), pending(1), source="purchased-list"), msg(p, partner="acme"),
             "allow:transactional", "eu.transactional.transactional")
        if p == "transactional" else
        Case(f"eu purchased list {p}", "fr", who(consent(), purchase(), pending(1), source="purchased-list"), msg(p, partner="acme"),
             "deny:purchased-list", "eu.sources.purchased-list")
        for p in PURPOSES
    ),
]  # fmt: skip


@pytest.mark.parametrize("case", params(CASES))
def test_decision(case: Case) -> None:
    check(case)
