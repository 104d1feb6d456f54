"""pipeline/classify.py: where a message's purpose comes from (stream, header, hint, guess)."""

from __future__ import annotations

from email.message import Message
from email.parser import BytesHeaderParser

import pytest

from gateway.config import Config, SmtpUser, Stream
from gateway.pipeline.classify import Classification, classify, stream_for


def headers(text: str) -> Message:
    return BytesHeaderParser().parsebytes(text.replace("\n", "\r\n").encode() + b"\r\n")


def run(
    text: str,
    *,
    stream: str | None = None,
    topic: str | None = None,
    promotional: bool = False,
    reclassify: bool = False,
) -> tuple[Classification, list[bool]]:
    asked: list[bool] = []

    def promo() -> bool:
        asked.append(True)
        return promotional

    result = classify(
        headers(text),
        stream_purpose=stream,
        stream_topic=topic,
        promotional=promo,
        unknown_purpose="marketing",
        reclassify_promotional=reclassify,
    )
    return result, asked


@pytest.mark.parametrize(
    ("text", "purpose", "origin"),
    [
        ("X-PM-Message-Stream: outbound\n", "transactional", "hint"),
        ("X-PM-Message-Stream: broadcast\n", "marketing", "hint"),
        ("Precedence: bulk\n", "marketing", "hint"),
        ("Precedence: LIST\n", "marketing", "hint"),
        ("List-Id: <news.shop.example>\n", "marketing", "hint"),
        ("Subject: Reset your password\n", "transactional", "heuristic"),
        ("Subject: Your invoice 2026-114\n", "transactional", "heuristic"),
        ("Subject: Faktura VAT 12/2026\n", "transactional", "heuristic"),
        ("Subject: Rechnung Nr. 7\n", "transactional", "heuristic"),
        ("Subject: =?utf-8?q?Potvrzen=C3=AD_objedn=C3=A1vky?=\n", "transactional", "heuristic"),
        ("Subject: Order #1234 shipped\n", "transactional", "heuristic"),
        ("Subject: Hello\n", "marketing", "default"),
        ("Precedence: junk\nSubject: Hi\n", "marketing", "default"),
    ],
)
def test_hints_and_heuristics_when_nothing_is_declared(
    text: str, purpose: str, origin: str
) -> None:
    result, _ = run(text)
    assert (result.purpose, result.origin) == (purpose, origin)


def test_promotional_words_make_undeclared_mail_marketing_before_a_receipt_subject() -> None:
    result, asked = run("Subject: Your receipt\n", promotional=True)
    assert (result.purpose, result.origin) == ("marketing", "heuristic")
    assert asked


def test_hints_are_read_before_the_body_is() -> None:
    _, asked = run("X-PM-Message-Stream: outbound\n", promotional=True)
    assert not asked


def test_a_header_may_make_the_stream_stricter_never_looser() -> None:
    stricter, _ = run("X-Gatekeeper-Purpose: marketing\n", stream="service")
    assert (stricter.purpose, stricter.origin) == ("marketing", "header")
    looser, _ = run("X-Gatekeeper-Purpose: transactional\n", stream="marketing")
    assert (looser.purpose, looser.origin) == ("marketing", "stream")
    assert any("looser" in note for note in looser.notes)


def test_an_unknown_declared_purpose_is_ignored_with_a_note() -> None:
    result, _ = run("X-Gatekeeper-Purpose: newsletter\nSubject: Hello\n")
    assert result.purpose == "marketing"
    assert result.origin == "default"
    assert any("unknown X-Gatekeeper-Purpose" in note for note in result.notes)


def test_declared_purpose_is_case_insensitive_and_wins_over_hints() -> None:
    result, asked = run("X-Gatekeeper-Purpose: Transactional\nPrecedence: bulk\n")
    assert (result.purpose, result.origin) == ("transactional", "header")
    assert not asked


def test_topic_category_partner_from_headers_topic_falls_back_to_stream() -> None:
    result, _ = run(
        "X-Gatekeeper-Category: shoes\nX-Gatekeeper-Partner: acme\n",
        stream="marketing",
        topic="newsletter",
    )
    assert (result.topic, result.category, result.partner) == ("newsletter", "shoes", "acme")
    own, _ = run("X-Gatekeeper-Topic: offers\n", stream="marketing", topic="newsletter")
    assert own.topic == "offers"


def test_reclassify_promotional_turns_declared_transactional_into_marketing() -> None:
    kept, _ = run("X-Gatekeeper-Purpose: transactional\n", promotional=True)
    assert kept.purpose == "transactional"
    changed, _ = run("X-Gatekeeper-Purpose: transactional\n", promotional=True, reclassify=True)
    assert changed.purpose == "marketing"
    assert any("treated as marketing" in note for note in changed.notes)


def test_stream_for_prefers_the_login_then_the_first_matching_sender_glob() -> None:
    config = Config()
    config.streams = [
        Stream(sender="*@news.shop.example", purpose="marketing", topic="newsletter"),
        Stream(sender="receipts@shop.example", purpose="transactional"),
    ]
    user = SmtpUser(name="billing", password_hash="x", purpose="service")
    assert stream_for(config, user, "a@news.shop.example") == ("service", None)
    assert stream_for(config, None, "Weekly@NEWS.shop.example") == ("marketing", "newsletter")
    assert stream_for(config, None, "receipts@shop.example") == ("transactional", None)
    assert stream_for(config, None, "other@shop.example") == (None, None)
    assert stream_for(config, None, "") == (None, None)
