"""How the engine weighs findings: precedence, treat_as notes, warnings, settings."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.policy import MessageFacts, Settings, Suppression
from gateway.policy.engine import same_verdicts
from tests.policy.table import (
    CITES,
    CUSTOMER,
    FAN,
    NOBODY,
    POLICIES,
    Case,
    consent,
    decide_case,
    msg,
    who,
)


def test_first_reason_by_precedence_and_the_rest_in_detail() -> None:
    case = Case(
        "several", "fr", who(Suppression("all", "complaint"), Suppression("all", "erased")),
        msg("marketing", has_unsubscribe_link=False), "deny:erased", "eu.suppression.erased",
    )  # fmt: skip
    verdict = decide_case(case)
    assert (verdict.reason, verdict.rule) == ("erased", "eu.suppression.erased")
    assert verdict.detail == (
        "complaint (eu.suppression.complaint)",
        "no-consent (eu.marketing.consent)",
        "no-consent (eu.marketing.soft-opt-in)",
        "missing-unsubscribe-link (eu.content.unsubscribe-link)",
    )


def test_rule_and_citation_come_from_the_policy_file() -> None:
    verdict = decide_case(Case("cz", "cz", CUSTOMER, msg("marketing"), "", ""))
    assert verdict.rule == "cz.marketing.soft-opt-in"
    assert verdict.cite == "Act 480/2004 Coll. §7(3)" == CITES["cz.marketing.soft-opt-in"]


def test_treatment_as_marketing_is_noted() -> None:
    verdict = decide_case(Case("cz", "cz", FAN, msg("service"), "", ""))
    assert verdict.detail == ("service treated as marketing (cz.service)",)


def test_promotional_transactional_mail_is_allowed_with_a_warning() -> None:
    verdict = decide_case(Case("t", "fr", NOBODY, msg("transactional", promotional=True), "", ""))
    assert (verdict.action, verdict.rule) == ("allow", "eu.transactional.transactional")
    assert verdict.detail == ("warning: promotional content in transactional mail",)


def test_inactivity_expiry_can_be_turned_off() -> None:
    case = Case("old", "fr", who(consent(days=2000)), msg("marketing"), "", "")
    assert decide_case(case).reason == "consent-expired"
    assert decide_case(case, Settings(inactive_after_days=0)).basis == "consent"


def test_strictest_combination_denies_when_the_sender_policy_denies() -> None:
    case = Case("us", "us", NOBODY, msg("marketing"), "", "")
    assert decide_case(case, Settings(sender_jurisdiction="CZ")).basis == "opt-out-regime"
    verdict = decide_case(case, Settings(combine="strictest", sender_jurisdiction="CZ"))
    assert (verdict.reason, verdict.jurisdiction, verdict.rule) == (
        "no-consent", "cz", "cz.marketing.consent",
    )  # fmt: skip


def test_strictest_combination_keeps_the_recipient_verdict_when_both_allow() -> None:
    case = Case("cz", "cz", FAN, msg("marketing"), "", "")
    verdict = decide_case(case, Settings(combine="strictest", sender_jurisdiction="us"))
    assert (verdict.basis, verdict.jurisdiction) == ("consent", "cz")


def test_unknown_combine_mode_is_refused() -> None:
    with pytest.raises(ValueError, match=r"policy\.combine must be one of recipient, strictest"):
        Settings(combine="loosest")


def test_verdicts_stand_when_data_adds_nothing_the_engine_reads() -> None:
    """What the accept stage asks before deciding RCPT-time verdicts again at DATA."""
    at_rcpt = MessageFacts("transactional")
    plain = msg("transactional", category=None, subject="Your receipt")
    assert same_verdicts(POLICIES, at_rcpt, at_rcpt)
    assert same_verdicts(POLICIES, at_rcpt, plain)  # no policy has content rules for it
    # a warning, a content rule, or a field the bases read: decided again
    assert not same_verdicts(
        POLICIES, at_rcpt, msg("transactional", category=None, promotional=True)
    )
    assert not same_verdicts(POLICIES, MessageFacts("marketing"), msg("marketing", category=None))
    assert not same_verdicts(POLICIES, at_rcpt, msg("transactional"))  # category "shoes"
    assert not same_verdicts(POLICIES, at_rcpt, MessageFacts("transactional", topic="orders"))
    # a purpose treated as another one with content rules reads the content too (cz.service)
    assert not same_verdicts(POLICIES, MessageFacts("service"), msg("service", category=None))
    for case in (
        Case("fan", "fr", FAN, plain, "", ""),
        Case("customer", "cz", CUSTOMER, plain, "", ""),
        Case("bounced", "us", who(Suppression("all", "hard-bounce")), plain, "", ""),
    ):
        assert decide_case(case) == decide_case(replace(case, message=at_rcpt))
