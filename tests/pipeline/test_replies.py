"""Reply texts: one line each (RFC 5321 §4.5.3.1.5), and what a refusal teaches."""

from __future__ import annotations

import pytest

from gateway.pipeline import replies


def test_refusal_names_reason_purpose_source_rule_hint_and_ref():
    line = replies.refused(
        "no-consent",
        "no-consent",
        "marketing",
        replies.UNDECLARED,
        "eu.marketing.consent",
        "0190abcd",
    )
    assert line == (
        "550 5.7.1 no-consent: marketing (undeclared: set X-Gatekeeper-Purpose or a "
        "[[streams]] entry); rule eu.marketing.consent; record consent: gatekeeper contacts "
        "import (ref 0190abcd)"
    )


def test_suppression_hint_names_the_address():
    line = replies.refused(
        "unsubscribed",
        "unsubscribed",
        "marketing",
        "X-Gatekeeper-Purpose",
        "eu.suppression.unsubscribed",
        "r1",
        "ann@example.org",
    )
    assert "see: gatekeeper contacts show ann@example.org (ref r1)" in line


@pytest.mark.parametrize(
    ("origin", "notes", "login", "said"),
    [
        ("stream", [], "shop", "login shop"),
        ("stream", [], None, "[[streams]] entry"),
        ("header", [], None, "X-Gatekeeper-Purpose"),
        ("hint", ["X-PM-Message-Stream: broadcast"], None, "hint: X-PM-Message-Stream: broadcast"),
        ("hint", ["bulk or list mail"], None, "hint: bulk or list mail"),
        ("heuristic", ["promotional content"], None, "hint: promotional words"),
        ("heuristic", ["transactional subject"], None, "hint: subject"),
        ("default", ["purpose not declared"], None, replies.UNDECLARED),
        (
            "header",
            ["promotional content: transactional treated as marketing"],
            None,
            "reclassified: promotional words in declared mail",
        ),
    ],
)
def test_purpose_sources(origin, notes, login, said):
    assert replies.purpose_source(origin, notes, login) == said


def test_long_client_text_still_fits_one_line_and_keeps_the_ref():
    line = replies.bad_address("recipient", "x" * 600 + "@example.org", "too long", "ref1")
    assert len(line.encode()) <= 510 and line.endswith("... (ref ref1)")
    wide = replies.bad_address("sender", "ü" * 400, "bad", "ref2")
    assert len(wide.encode()) <= 510 and wide.endswith(" (ref ref2)")


def test_control_characters_from_the_client_are_not_echoed():
    line = replies.bad_address("recipient", "a\rb\x00c@example.org", "bad", "r")
    assert "\r" not in line and "\x00" not in line and "a?b?c@example.org" in line


def test_partly_queued_says_how_to_see_who_and_why():
    assert replies.queued_partly("Q1", 2, 3, "R1") == (
        "250 2.0.0 Ok: queued as Q1; 2 of 3 recipients accepted, 1 refused (ref R1); "
        "see: gatekeeper log --message-id Q1"
    )
