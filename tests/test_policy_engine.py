"""Table of policy decisions against the real policies/*.toml files."""

# A decision table reads best one row per line.
# ruff: noqa: E501

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.content import ContentFindings
from gateway.policy import (
    ALLOW_BASES,
    DENY_REASONS,
    PURPOSES,
    Consent,
    MessageFacts,
    RecipientFacts,
    Relationship,
    Settings,
    Suppression,
    Verdict,
    decide,
    default_policy_dir,
    load_policies,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
POLICIES = load_policies(default_policy_dir())
SETTINGS = Settings()
POLICY_OF_COUNTRY = {"fr": "eu", "gb": "uk"}


def ago(*, days: int = 0, hours: int = 0) -> datetime:
    return NOW - timedelta(days=days, hours=hours)


def consent(
    topic: str = "marketing",
    *,
    days: int = 30,
    confirmed: bool = True,
    proof: bool = True,
    withdrawn: bool = False,
) -> Consent:
    return Consent(
        topic=topic,
        granted_at=ago(days=days),
        double_opt_in_at=ago(days=days) if confirmed else None,
        withdrawn_at=ago(days=1) if withdrawn else None,
        has_proof=proof,
    )


def pending(hours: int) -> Consent:
    return Consent(topic="newsletter", granted_at=ago(hours=hours), has_proof=True)


def purchase(days: int = 90, *categories: str) -> Relationship:
    return Relationship("purchase", ago(days=days), frozenset(categories or ("shoes",)))


def inquiry(days: int = 30) -> Relationship:
    return Relationship("inquiry", ago(days=days), frozenset({"shoes"}))


def who(
    *facts: Consent | Relationship | Suppression,
    source: str | None = None,
    valid: bool = True,
    engaged_days: int | None = None,
) -> RecipientFacts:
    """A contact; the country is filled in per row."""
    return RecipientFacts(
        address="someone@example.com",
        known=True,
        source=source,
        last_engaged_at=ago(days=engaged_days) if engaged_days is not None else None,
        consents=tuple(f for f in facts if isinstance(f, Consent)),
        relationships=tuple(f for f in facts if isinstance(f, Relationship)),
        suppressions=tuple(f for f in facts if isinstance(f, Suppression)),
        valid_address=valid,
    )


FULL_CONTENT = MessageFacts(
    purpose="marketing",
    category="shoes",
    subject="Ad: OS summer shoes",  # labelled for both US and CZ
    from_header="Shop <news@shop.example>",
    content=ContentFindings(
        has_unsubscribe_link=True,
        has_sender_identification=True,
        has_postal_address=True,
        promotional_markers=(),
    ),
)


def msg(purpose: str, *, promotional: bool = False, **overrides: Any) -> MessageFacts:
    """A message meeting every content rule unless overridden (content findings by name)."""
    assert FULL_CONTENT.content is not None
    findings = {k: overrides.pop(k) for k in ContentFindings.__dataclass_fields__
                if k in overrides}
    if promotional:
        findings["promotional_markers"] = ("sale",)
    content = replace(FULL_CONTENT.content, **findings)
    return replace(FULL_CONTENT, purpose=purpose, content=content, **overrides)


NOBODY = who()
CUSTOMER = who(purchase())
FAN = who(consent())
COMPLAINT = Suppression("all", "complaint")
BOUNCE = Suppression("all", "hard-bounce")


@dataclass(frozen=True)
class Case:
    name: str
    country: str
    recipient: RecipientFacts
    message: MessageFacts
    expect: str
    """"allow:<basis>" or "deny:<reason>"."""

    @property
    def policy(self) -> str:
        return POLICY_OF_COUNTRY.get(self.country, self.country)


CASES: list[Case] = [
    # EU baseline (France has no file of its own)
    Case("eu consent marketing", "fr", FAN, msg("marketing"), "allow:consent"),
    Case("eu soft opt-in", "fr", CUSTOMER, msg("marketing"), "allow:soft-opt-in"),
    Case("eu nobody marketing", "fr", NOBODY, msg("marketing"), "deny:no-consent"),
    Case("eu old purchase", "fr", who(purchase(800)), msg("marketing"), "deny:soft-opt-in-expired"),
    Case("eu dissimilar", "fr", CUSTOMER, msg("marketing", category="tents"), "deny:soft-opt-in-dissimilar"),
    Case("eu no category", "fr", CUSTOMER, msg("marketing", category=None), "deny:soft-opt-in-dissimilar"),
    Case("eu transactional nobody", "fr", NOBODY, msg("transactional"), "allow:transactional"),
    Case("eu confirmation pending", "fr", who(pending(2)), msg("confirmation"), "allow:pending-confirmation"),
    Case("eu confirmation stale", "fr", who(pending(72)), msg("confirmation"), "deny:consent-expired"),
    Case("eu confirmation nobody", "fr", NOBODY, msg("confirmation"), "deny:no-consent"),
    Case("eu confirmation confirmed", "fr", FAN, msg("confirmation"), "deny:no-consent"),
    Case("eu service customer", "fr", CUSTOMER, msg("service"), "allow:customer"),
    Case("eu service non-customer", "fr", FAN, msg("service"), "deny:not-a-customer"),
    Case("eu survey consent", "fr", FAN, msg("survey"), "allow:consent"),
    Case("eu greeting nobody", "fr", NOBODY, msg("greeting"), "deny:no-consent"),
    Case("eu consent-request customer", "fr", CUSTOMER, msg("consent-request"), "allow:soft-opt-in"),
    Case("eu no unsubscribe link", "fr", FAN, msg("marketing", has_unsubscribe_link=False), "deny:missing-unsubscribe-link"),
    Case("eu withdrawn", "fr", who(consent(withdrawn=True)), msg("marketing"), "deny:consent-withdrawn"),
    Case("eu withdrawn but customer", "fr", who(consent(withdrawn=True), purchase()), msg("marketing"), "allow:soft-opt-in"),
    Case("eu inactive", "fr", who(consent(days=1200)), msg("marketing"), "deny:consent-expired"),
    Case("eu old consent, engaged", "fr", who(consent(days=1200), engaged_days=10), msg("marketing"), "allow:consent"),
    Case("eu invalid address", "fr", who(valid=False), msg("transactional"), "deny:invalid-address"),
    Case("eu erased", "fr", who(Suppression("all", "erased")), msg("transactional"), "deny:erased"),
    Case("eu topic consent", "fr", who(consent("newsletter")), msg("marketing", topic="newsletter"), "allow:consent"),
    Case("eu other topic", "fr", who(consent("offers")), msg("marketing", topic="newsletter"), "deny:no-consent"),
    Case("eu topic needs consent", "fr", who(consent("newsletter")), msg("marketing"), "deny:no-consent"),
    Case("eu marketing covers topic", "fr", FAN, msg("marketing", topic="newsletter"), "allow:consent"),
    Case("eu unsubscribed topic", "fr", who(consent(), Suppression("newsletter", "unsubscribed")), msg("marketing", topic="newsletter"), "deny:unsubscribed"),
    Case("eu unsubscribed other topic", "fr", who(consent(), Suppression("newsletter", "unsubscribed")), msg("marketing", topic="offers"), "allow:consent"),
    Case("eu objected marketing", "fr", who(purchase(), Suppression("marketing", "objected")), msg("marketing"), "deny:objected"),
    Case("eu objected marketing, service", "fr", who(purchase(), Suppression("marketing", "objected")), msg("service"), "allow:customer"),
    Case("eu unsubscribed all, service", "fr", who(purchase(), Suppression("all", "unsubscribed")), msg("service"), "deny:unsubscribed"),
    Case("eu unsubscribed all, transactional", "fr", who(Suppression("all", "unsubscribed")), msg("transactional"), "allow:transactional"),
    Case("eu partners consent", "fr", who(consent("partners")), msg("partner-marketing", partner="acme"), "allow:consent"),
    Case("eu named partner", "fr", who(consent("partner:acme")), msg("partner-marketing", partner="Acme"), "allow:consent"),
    Case("eu other partner", "fr", who(consent("partner:acme")), msg("partner-marketing", partner="zeta"), "deny:partner-not-consented"),
    Case("eu marketing consent, partner", "fr", FAN, msg("partner-marketing", partner="acme"), "deny:partner-not-consented"),
    Case("eu complaint marketing", "fr", who(consent(), COMPLAINT), msg("marketing"), "deny:complaint"),
    Case("eu complaint transactional", "fr", who(consent(), COMPLAINT), msg("transactional"), "allow:transactional"),
    Case("eu complaint scoped still blocks", "fr", who(purchase(), Suppression("newsletter", "complaint")), msg("service"), "deny:complaint"),
    # Poland: no soft opt-in
    Case("pl past customer marketing", "pl", CUSTOMER, msg("marketing"), "deny:no-consent"),
    Case("pl consent marketing", "pl", FAN, msg("marketing"), "allow:consent"),
    Case("pl survey customer", "pl", CUSTOMER, msg("survey"), "allow:legitimate-interest"),
    Case("pl survey non-customer", "pl", NOBODY, msg("survey"), "deny:no-consent"),
    Case("pl survey customer no link", "pl", CUSTOMER, msg("survey", has_unsubscribe_link=False), "deny:missing-unsubscribe-link"),
    Case("pl greeting customer", "pl", CUSTOMER, msg("greeting"), "deny:no-consent"),
    Case("pl service customer", "pl", CUSTOMER, msg("service"), "allow:customer"),
    # Czech Republic
    Case("cz soft opt-in similar", "cz", CUSTOMER, msg("marketing"), "allow:soft-opt-in"),
    Case("cz soft opt-in dissimilar", "cz", CUSTOMER, msg("marketing", category="tents"), "deny:soft-opt-in-dissimilar"),
    Case("cz unsubscribed marketing, outage notice", "cz", who(purchase(), Suppression("marketing", "unsubscribed")), msg("service"), "allow:customer"),
    Case("cz unsubscribed marketing, survey", "cz", who(purchase(), Suppression("marketing", "unsubscribed")), msg("survey"), "deny:unsubscribed"),
    Case("cz service non-customer", "cz", NOBODY, msg("service"), "deny:no-consent"),
    Case("cz service non-customer with consent", "cz", FAN, msg("service"), "allow:consent"),
    Case("cz no subject label", "cz", FAN, msg("marketing", subject="Summer shoes"), "deny:missing-subject-label"),
    Case("cz label in From", "cz", FAN, msg("marketing", subject="Summer shoes", from_header="Shop newsletter <n@shop.cz>"), "allow:consent"),
    Case("cz label word not a substring", "cz", FAN, msg("marketing", subject="Cosmos shoes"), "deny:missing-subject-label"),
    Case("cz no sender identification", "cz", FAN, msg("marketing", has_sender_identification=False), "deny:missing-sender-identification"),
    Case("cz greeting nobody", "cz", NOBODY, msg("greeting"), "deny:no-consent"),
    Case("cz consent-request nobody", "cz", NOBODY, msg("consent-request"), "deny:no-consent"),
    Case("cz public source", "cz", who(consent(), source="public-source"), msg("marketing"), "deny:purchased-list"),
    Case("cz purchased list transactional", "cz", who(source="purchased-list"), msg("transactional"), "allow:transactional"),
    Case("cz hard bounce marketing", "cz", who(consent(), BOUNCE), msg("marketing"), "deny:hard-bounce"),
    # Netherlands
    Case("nl inquiry only", "nl", who(inquiry()), msg("marketing"), "deny:no-consent"),
    Case("nl soft opt-in, partner", "nl", CUSTOMER, msg("partner-marketing", partner="acme"), "deny:partner-not-consented"),
    Case("nl soft opt-in", "nl", CUSTOMER, msg("marketing"), "allow:soft-opt-in"),
    Case("nl consent-request nobody", "nl", NOBODY, msg("consent-request"), "deny:no-consent"),
    Case("nl consent without proof", "nl", who(consent(proof=False)), msg("marketing"), "allow:consent"),
    # Germany
    Case("de consent without proof", "de", who(consent(proof=False)), msg("marketing"), "deny:consent-unproven"),
    Case("de consent unconfirmed", "de", who(consent(confirmed=False)), msg("marketing"), "deny:double-opt-in-required"),
    Case("de consent confirmed, proven", "de", FAN, msg("marketing"), "allow:consent"),
    Case("de survey customer", "de", CUSTOMER, msg("survey"), "allow:soft-opt-in"),
    Case("de survey nobody", "de", NOBODY, msg("survey"), "deny:no-consent"),
    Case("de partner unconfirmed", "de", who(consent("partners", confirmed=False)), msg("partner-marketing"), "deny:double-opt-in-required"),
    Case("de greeting consent", "de", FAN, msg("greeting"), "allow:consent"),
    # United Kingdom
    Case("uk consent-request nobody", "uk", NOBODY, msg("consent-request"), "deny:no-consent"),
    Case("uk negotiation soft opt-in", "gb", who(inquiry()), msg("marketing"), "allow:soft-opt-in"),
    Case("uk survey customer", "uk", CUSTOMER, msg("survey"), "allow:legitimate-interest"),
    Case("uk survey nobody", "uk", NOBODY, msg("survey"), "deny:no-consent"),
    Case("uk greeting consent", "gb", FAN, msg("greeting"), "allow:consent"),
    Case("uk transactional", "uk", NOBODY, msg("transactional"), "allow:transactional"),
    # United States
    Case("us nobody marketing", "us", NOBODY, msg("marketing"), "allow:opt-out-regime"),
    Case("us no postal address", "us", NOBODY, msg("marketing", has_postal_address=False), "deny:missing-postal-address"),
    Case("us no ad label", "us", NOBODY, msg("marketing", subject="Summer shoes"), "deny:missing-subject-label"),
    Case("us no ad label, consented", "us", FAN, msg("marketing", subject="Summer shoes"), "allow:opt-out-regime"),
    Case("us no link", "us", NOBODY, msg("marketing", has_unsubscribe_link=False), "deny:missing-unsubscribe-link"),
    Case("us unsubscribed", "us", who(Suppression("all", "unsubscribed")), msg("marketing"), "deny:unsubscribed"),
    Case("us survey", "us", NOBODY, msg("survey", subject="How did we do?", has_postal_address=False), "allow:opt-out-regime"),
    Case("us greeting", "us", NOBODY, msg("greeting"), "allow:opt-out-regime"),
    Case("us service non-customer", "us", NOBODY, msg("service"), "allow:opt-out-regime"),
    Case("us partner", "us", NOBODY, msg("partner-marketing", partner="acme"), "allow:opt-out-regime"),
    Case("us purchased list", "us", who(source="purchased-list"), msg("marketing"), "deny:purchased-list"),
    Case("us public source", "us", who(source="public-source"), msg("marketing"), "allow:opt-out-regime"),
    Case("us hard bounce transactional", "us", who(BOUNCE), msg("transactional"), "deny:hard-bounce"),
    Case("us confirmation", "us", who(pending(1)), msg("confirmation"), "allow:pending-confirmation"),
    Case("us consent-request", "us", NOBODY, msg("consent-request"), "allow:opt-out-regime"),
    # Canada
    Case("ca purchase 25 months ago", "ca", who(purchase(25 * 31)), msg("marketing"), "deny:consent-expired"),
    Case("ca purchase 23 months ago", "ca", who(purchase(23 * 30)), msg("marketing", category="tents"), "allow:implied-consent"),
    Case("ca inquiry 5 months ago", "ca", who(inquiry(5 * 30)), msg("marketing"), "allow:implied-consent"),
    Case("ca inquiry 7 months ago", "ca", who(inquiry(7 * 30)), msg("marketing"), "deny:consent-expired"),
    Case("ca express consent", "ca", who(consent(days=2000), engaged_days=30), msg("marketing"), "allow:consent"),
    Case("ca service inquiry", "ca", who(inquiry(60)), msg("service"), "allow:customer"),
    Case("ca service no identification", "ca", CUSTOMER, msg("service", has_sender_identification=False), "deny:missing-sender-identification"),
    Case("ca no postal address", "ca", FAN, msg("marketing", has_postal_address=False), "deny:missing-postal-address"),
    Case("ca confirmation", "ca", who(pending(12)), msg("confirmation"), "allow:pending-confirmation"),
    Case("ca consent-request nobody", "ca", NOBODY, msg("consent-request"), "deny:no-consent"),
    Case("ca survey nobody", "ca", NOBODY, msg("survey"), "deny:no-consent"),
    Case("ca greeting customer", "ca", CUSTOMER, msg("greeting"), "allow:implied-consent"),
    Case("ca partner", "ca", who(consent("partner:acme")), msg("partner-marketing", partner="acme"), "allow:consent"),
    # Hard bounce and purchased lists, across purposes
    *(
        Case(f"hard bounce {p}", "fr", who(consent(), purchase(), BOUNCE), msg(p), "deny:hard-bounce")
        for p in PURPOSES
    ),
    *(
        Case(
            f"purchased list {p}", "fr", who(consent(), purchase(), pending(1), source="purchased-list"), msg(p, partner="acme"),
            "allow:transactional" if p == "transactional" else "deny:purchased-list",
        )
        for p in PURPOSES
    ),
]  # fmt: skip


def _decide(case: Case, settings: Settings = SETTINGS) -> Verdict:
    recipient = replace(case.recipient, country=case.country)
    return decide(POLICIES, recipient, case.message, now=NOW, settings=settings)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_decision(case: Case) -> None:
    verdict = _decide(case)
    got = f"{verdict.action}:{verdict.basis if verdict.allowed else verdict.reason}"
    assert got == case.expect, verdict
    assert verdict.jurisdiction == case.policy
    assert verdict.rule and verdict.cite


def test_table_covers_every_jurisdiction_purpose_basis_and_reason() -> None:
    outcomes = {c.expect.partition(":")[2] for c in CASES}
    assert set(POLICIES) <= {c.policy for c in CASES}
    assert set(PURPOSES) <= {c.message.purpose for c in CASES}
    assert set(ALLOW_BASES) <= outcomes
    assert set(DENY_REASONS) <= outcomes
    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES)


def test_first_reason_by_precedence_and_the_rest_in_detail() -> None:
    case = Case(
        "several", "fr", who(Suppression("all", "complaint"), Suppression("all", "erased")),
        msg("marketing", has_unsubscribe_link=False), "deny:erased",
    )  # fmt: skip
    verdict = _decide(case)
    assert verdict.reason == "erased"
    assert verdict.rule == "eu.suppression.erased"
    assert verdict.detail[:3] == (
        "complaint (eu.suppression.complaint)",
        "no-consent (eu.marketing.consent)",
        "no-consent (eu.marketing.soft-opt-in)",
    )
    assert "missing-unsubscribe-link (eu.content.unsubscribe-link)" in verdict.detail


def test_rule_and_citation_come_from_the_policy_file() -> None:
    verdict = _decide(Case("cz", "cz", CUSTOMER, msg("marketing"), "allow:soft-opt-in"))
    assert verdict.rule == "cz.marketing.soft-opt-in"
    assert verdict.cite == "Act 480/2004 Coll. §7(3)"


def test_treatment_as_marketing_is_noted() -> None:
    verdict = _decide(Case("cz", "cz", FAN, msg("service"), "allow:consent"))
    assert verdict.detail == ("service treated as marketing (cz.service)",)


def test_promotional_transactional_mail_is_allowed_with_a_warning() -> None:
    verdict = _decide(Case("t", "fr", NOBODY, msg("transactional", promotional=True), ""))
    assert verdict.allowed
    assert verdict.detail == ("warning: promotional content in transactional mail",)


def test_inactivity_expiry_can_be_turned_off() -> None:
    case = Case("old", "fr", who(consent(days=2000)), msg("marketing"), "")
    assert _decide(case).reason == "consent-expired"
    assert _decide(case, Settings(inactive_after_days=0)).basis == "consent"


def test_strictest_combination_denies_when_the_sender_policy_denies() -> None:
    case = Case("us", "us", NOBODY, msg("marketing"), "")
    assert _decide(case, Settings(sender_jurisdiction="CZ")).basis == "opt-out-regime"
    verdict = _decide(case, Settings(combine="strictest", sender_jurisdiction="CZ"))
    assert (verdict.reason, verdict.jurisdiction) == ("no-consent", "cz")


def test_strictest_combination_keeps_the_recipient_verdict_when_both_allow() -> None:
    case = Case("cz", "cz", FAN, msg("marketing"), "")
    verdict = _decide(case, Settings(combine="strictest", sender_jurisdiction="us"))
    assert (verdict.basis, verdict.jurisdiction) == ("consent", "cz")


def test_unknown_combine_mode_is_refused() -> None:
    with pytest.raises(ValueError, match=r"policy\.combine"):
        Settings(combine="loosest")
