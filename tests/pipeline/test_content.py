"""Content findings of received bytes, read as the accept stage reads them (ContentReader)."""

from __future__ import annotations

from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage

import pytest

from gateway.pipeline.content import BodyFindings, ContentReader, Identity
from gateway.pipeline.mime import text_parts

ACME = Identity(
    name="ACME s.r.o.", registration="IČO 12345678", postal_address="Hlavní 1, 110 00 Praha"
)
BASE = "https://gw.example/u/"


def plain(body: str, subject: str = "Hello") -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


def findings(msg: EmailMessage, identity: Identity = ACME) -> BodyFindings:
    """What the gateway reads in `msg` as an SMTP client would send it."""
    data = msg.as_bytes(policy=email_policy.SMTP)
    parsed = message_from_bytes(data, policy=email_policy.default)
    subject = str(parsed.get("Subject", ""))
    return ContentReader(identity, BASE).read(data, subject, text_parts(data))


def values(found: BodyFindings) -> tuple[bool, bool, bool, tuple[str, ...]]:
    return (
        found.has_unsubscribe_link,
        found.has_sender_identification,
        found.has_postal_address,
        found.promotional_markers,
    )


FOOTER = "ACME s.r.o., IČO 12345678\nHlavní 1,\n110 00 Praha"


@pytest.mark.parametrize(
    "body",
    [
        "Bye: %unsubscribe_url%",
        "Leave: https://gw.example/u/abc123",
        "https://shop.example/unsubscribe?u=1",
        "Odhlásit odběr: https://shop.example/x/1",
        "Abmelden: https://shop.example/a",
        "Afmelden via https://shop.example/a",
        "Wypisz się: https://shop.example/w",
    ],
)
def test_unsubscribe_link_in_plain_text(body: str) -> None:
    assert findings(plain(body)).has_unsubscribe_link


@pytest.mark.parametrize(
    "body",
    ["No way out.", "To unsubscribe, reply to this mail.", "https://shop.example/offers"],
)
def test_no_unsubscribe_link(body: str) -> None:
    assert not findings(plain(body)).has_unsubscribe_link


def test_html_anchor_text_or_href() -> None:
    msg = plain("text part without a link")
    msg.add_alternative(
        '<p><a href="https://shop.example/x?id=1"><b>Unsubscribe</b></a></p>', subtype="html"
    )
    assert findings(msg).has_unsubscribe_link
    href_only = plain("x")
    href_only.add_alternative('<a href="https://shop.example/abmelden/1">hier</a>', subtype="html")
    assert findings(href_only).has_unsubscribe_link


def test_identity_and_address_ignore_case_whitespace_and_line_breaks() -> None:
    result = findings(plain("Offer.\n\nacme   S.R.O.\nIČO  12345678\nHlavní 1\n110 00  Praha"))
    assert result.has_sender_identification
    assert result.has_postal_address


def test_identification_needs_registration_when_set() -> None:
    result = findings(plain("ACME s.r.o., Hlavní 1, 110 00 Praha"))
    assert not result.has_sender_identification
    assert result.has_postal_address
    assert findings(plain("ACME s.r.o."), Identity(name="ACME s.r.o.")).has_sender_identification


def test_unconfigured_identity_fails_the_checks() -> None:
    result = findings(plain(FOOTER), Identity())
    assert not result.has_sender_identification
    assert not result.has_postal_address


@pytest.mark.parametrize("cte", ["quoted-printable", "base64"])
def test_encoded_part_is_decoded(cte: str) -> None:
    msg = EmailMessage()
    msg.set_content(f"Sleva 20 %!\n{FOOTER}\nOdhlásit: %unsubscribe_url%\n", cte=cte)
    assert "IČO".encode() not in msg.as_bytes()  # only readable once decoded
    result = findings(msg)
    assert result.has_unsubscribe_link
    assert result.has_sender_identification
    assert result.has_postal_address
    assert result.promotional_markers == ("sleva",)


def test_explicit_quoted_printable_and_base64_parts() -> None:
    raw = (
        b"Subject: Novinky\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"ACME s.r.o., I=C4=8CO 12345678, Hlavn=C3=AD 1, 110 00 Praha\r\n"
        b"--B\r\nContent-Type: text/html; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        b"PHA+PGEgaHJlZj0iaHR0cHM6Ly9ndy5leGFtcGxlL3UvYWJjIj5DbGljazwvYT48L3A+\r\n"  # link to BASE
        b"--B--\r\n"
    )
    result = ContentReader(ACME, BASE).read(raw, "Novinky", text_parts(raw))
    assert values(result) == (True, True, True, ())


def test_html_tags_and_entities_are_stripped_for_matching() -> None:
    msg = plain("plain")
    msg.add_alternative(
        "<div>ACME&nbsp;s.r.o.<br>I&#268;O <b>12345678</b></div>"
        "<p>Hlavn&iacute; 1,<br/>110 00 Praha</p>",
        subtype="html",
    )
    result = findings(msg)
    assert result.has_sender_identification and result.has_postal_address


def test_attachments_are_not_read() -> None:
    msg = plain("hello")
    msg.add_attachment(
        b"unsubscribe https://x.example/unsubscribe",
        maintype="text",
        subtype="plain",
        filename="a.txt",
    )
    assert not findings(msg).has_unsubscribe_link


@pytest.mark.parametrize(
    ("subject", "body", "markers"),
    [
        ("Summer SALE", "hi", ("sale",)),
        ("News", "Get 20% off with promo code X", ("% off", "promo code")),
        ("Rabatt", "Coupon inside", ("coupon", "rabatt")),
        ("Akce", "Sleva na boty", ("akce", "sleva")),
        ("Your receipt", "Wholesale order 42, discounted? no: salesforce", ()),
    ],
)
def test_promotional_markers(subject: str, body: str, markers: tuple[str, ...]) -> None:
    result = findings(plain(body, subject))
    assert result.promotional_markers == markers
    assert result.promotional == bool(markers)


def test_unparsed_read_sees_markers_in_the_raw_bytes() -> None:
    """Transactional mail is read without walking its parts, for the markers only."""
    raw = b"Subject: Receipt\r\n\r\nYour order. Sleva next time!\r\n"
    result = ContentReader(ACME, BASE).read(raw, "Receipt")
    assert result.parts is None
    assert result.promotional_markers == ("sleva",)


def test_as_sent_with_the_footer_brings_link_and_identity() -> None:
    reader = ContentReader(ACME, BASE)
    bare = reader.read(b"\r\nSleva!\r\n", "Hi")
    assert values(bare) == (False, False, False, ("sleva",))
    assert reader.as_sent(bare, footer=False) is bare
    sent = reader.as_sent(bare, footer=True)
    assert (
        sent.has_unsubscribe_link,
        sent.has_sender_identification,
        sent.has_postal_address,
        sent.promotional,
    ) == (True, True, True, True)
    unnamed = ContentReader(Identity(), BASE).as_sent(bare, footer=True)
    assert not unnamed.has_sender_identification and not unnamed.has_postal_address
