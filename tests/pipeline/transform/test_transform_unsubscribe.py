from __future__ import annotations

import base64
import binascii
import email
import email.policy
from email.message import EmailMessage

import pytest

from gateway.pipeline.mime import moved, text_parts
from gateway.pipeline.transform.unsubscribe import Template, list_unsubscribe_fields, mailto_uri

URL = "https://gk.example.com/u/AbC-d_123"
AMP_URL = "https://gk.example.com/u/T?x=1&y=2"

HEAD = (
    b"DKIM-Signature: v=1; a=rsa-sha256; d=app.example.com; s=s1;\r\n"
    b"\tb=abc; h=from:to:subject\r\n"
    b"From: App <app@example.com>\r\n"
    b"To: alice@example.org\r\n"
    b"Subject: News %unsubscribe_url% in the subject stays\r\n"
    b"MIME-Version: 1.0\r\n"
)


def replace_placeholder(data: bytes, url: str) -> bytes:
    """The copy of a recipient without a footer, as the transform renders it."""
    return Template.of(data).render(url)


def add_footer(data: bytes, url: str, identity_lines: list[str]) -> bytes:
    """The copy of a recipient that gets the footer (placeholders are filled in too)."""
    return Template.of(data).render(url, identity_lines)


def _parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def _texts(data: bytes) -> dict[str, str]:
    """Decoded content of the inline text parts, keyed by content type (first one wins)."""
    out: dict[str, str] = {}
    for part in _parse(data).walk():
        if part.get_content_type() in ("text/plain", "text/html") and not part.is_attachment():
            out.setdefault(part.get_content_type(), part.get_content().replace("\r\n", "\n"))
    return out


def _outside(data: bytes) -> list[bytes]:
    """The bytes of ``data`` outside its text parts' bodies."""
    segments, pos = [], 0
    for part in text_parts(data):
        segments.append(data[pos : part.start])
        pos = part.end
    return [*segments, data[pos:]]


def _assert_only_text_bodies_changed(before: bytes, after: bytes) -> None:
    assert _outside(after) == _outside(before)


def _b64(text: str) -> bytes:
    return base64.encodebytes(text.encode()).replace(b"\n", b"\r\n")


PLAIN = HEAD + (
    b"Content-Type: text/plain; charset=us-ascii\r\n"
    b"\r\n"
    b"Hi Alice,\r\n"
    b"unsubscribe: %unsubscribe_url%\r\n"
    b"again: <%unsubscribe_url%>\r\n"
)

QP_SPLIT = HEAD + (
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Dobr=C3=BD den, a long line that is wrapped by the encoder at seventy-six %un=\r\n"
    b"subscribe_url% and an encoded percent =25unsubscribe_url=25 too.\r\n"
)

BASE64 = HEAD + (
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n" + _b64("Grüße! Leave: %unsubscribe_url%\n" + "filler line\n" * 10)
)

ALTERNATIVE = HEAD + (
    b'Content-Type: multipart/alternative; boundary="alt"\r\n'
    b"\r\n"
    b"preamble\r\n"
    b"--alt\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Leave: %unsubscribe_url%\r\n"
    b"--alt\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b'<html><body><p>Hi</p><a href=3D"%unsubscribe_url%">leave</a></body></html>\r\n'
    b"--alt--\r\n"
    b"epilogue %unsubscribe_url%\r\n"
)

ATTACHMENT_TEXT = "attached %unsubscribe_url% must stay"
NESTED = HEAD + (
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"--outer\r\n"
    b'Content-Type: multipart/alternative; boundary="inner"\r\n'
    b"\r\n"
    b"--inner\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n" + _b64("Plain %unsubscribe_url%\n") + b"\r\n"
    b"--inner\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b'<p>HTML <a href=3D"%unsubscribe_url=\r\n'
    b'%">x</a></p>\r\n'
    b"--inner--\r\n"
    b"\r\n"
    b"--outer\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b'Content-Disposition: attachment; filename="note.txt"\r\n'
    b"\r\n" + ATTACHMENT_TEXT.encode() + b"\r\n"
    b"--outer\r\n"
    b"Content-Type: image/png\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"iVBORw0KGgo=\r\n"
    b"--outer--\r\n"
)


def test_list_unsubscribe_fields() -> None:
    mailto = mailto_uri("unsubscribe+TOKEN@gk.example.com", None)
    assert list_unsubscribe_fields(URL, mailto) == [
        ("List-Unsubscribe", f"<{URL}>, <mailto:unsubscribe+TOKEN@gk.example.com>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ]


def test_mailto_uri_with_subject() -> None:
    assert mailto_uri("unsubscribe@gk.example.com", "Ab-_9") == (
        "mailto:unsubscribe@gk.example.com?subject=Ab-_9"
    )


@pytest.mark.parametrize(
    ("https_url", "mailto"),
    [
        ("http://gk.example.com/u/T", "mailto:u@x"),
        (URL, "u@x"),
        (URL + " x", "mailto:u@x"),
        (URL, "mailto:u@x>"),
    ],
)
def test_list_unsubscribe_fields_validates(https_url: str, mailto: str) -> None:
    with pytest.raises(ValueError):
        list_unsubscribe_fields(https_url, mailto)


def test_plain_7bit_replaced_in_place() -> None:
    out = replace_placeholder(PLAIN, URL)
    head, body = PLAIN.split(b"\r\n\r\n", 1)
    assert out == head + b"\r\n\r\n" + body.replace(b"%unsubscribe_url%", URL.encode())
    assert _texts(out)["text/plain"].count(URL) == 2


def test_no_placeholder_returns_same_object() -> None:
    data = PLAIN.replace(b"%unsubscribe_url%", b"nothing")
    assert replace_placeholder(data, URL) is data


def test_placeholder_only_in_header_returns_same_object() -> None:
    data = HEAD + b"Content-Type: text/plain\r\n\r\nno link\r\n"
    assert replace_placeholder(data, URL) is data


def test_encoded_parts_without_placeholder_return_same_object() -> None:
    qp = QP_SPLIT.replace(b"%un=", b"%n=").replace(b"=25", b"=20")
    b64 = HEAD.replace(b"%unsubscribe_url%", b"") + (
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"\r\n" + _b64("no link here\n")
    )
    for data in (qp, b64):
        assert replace_placeholder(data, URL) is data


def test_quoted_printable_split_by_soft_break_and_encoded_percent() -> None:
    out = replace_placeholder(QP_SPLIT, URL)
    text = _texts(out)["text/plain"]
    assert text.count(URL) == 2
    assert "unsubscribe_url" not in text
    assert text.startswith("Dobrý den")
    _assert_only_text_bodies_changed(QP_SPLIT, out)
    assert all(len(line) <= 76 for line in out.split(b"\r\n\r\n", 1)[1].split(b"\r\n"))


def test_base64_part_hides_placeholder() -> None:
    out = replace_placeholder(BASE64, URL)
    text = _texts(out)["text/plain"]
    assert text.startswith(f"Grüße! Leave: {URL}\n")
    assert text.count("filler line") == 10
    _assert_only_text_bodies_changed(BASE64, out)
    body = out.split(b"\r\n\r\n", 1)[1]
    assert body.endswith(b"\r\n")
    assert all(len(line) <= 76 for line in body.split(b"\r\n"))


def test_multipart_alternative_escapes_url_in_html() -> None:
    out = replace_placeholder(ALTERNATIVE, AMP_URL)
    texts = _texts(out)
    assert texts["text/plain"] == f"Leave: {AMP_URL}"  # the CRLF belongs to the delimiter
    assert 'href="https://gk.example.com/u/T?x=1&amp;y=2"' in texts["text/html"]
    _assert_only_text_bodies_changed(ALTERNATIVE, out)
    assert b"preamble\r\n--alt\r\n" in out
    assert out.endswith(b"--alt--\r\nepilogue %unsubscribe_url%\r\n")


def test_nested_multipart_mixed() -> None:
    out = replace_placeholder(NESTED, URL)
    msg = _parse(out)
    texts = _texts(out)
    assert texts["text/plain"] == f"Plain {URL}\n"
    assert texts["text/html"] == f'<p>HTML <a href="{URL}">x</a></p>'
    attachment = next(part for part in msg.walk() if part.is_attachment())
    assert attachment.get_content() == ATTACHMENT_TEXT
    _assert_only_text_bodies_changed(NESTED, out)
    assert out.endswith(
        b"\r\n--outer\r\nContent-Type: image/png\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--outer--\r\n"
    )


def test_lf_line_endings() -> None:
    data = ALTERNATIVE.replace(b"\r\n", b"\n")
    out = replace_placeholder(data, URL)
    assert b"\r" not in out
    assert _texts(out)["text/plain"] == f"Leave: {URL}"
    assert URL in _texts(out)["text/html"]


def test_undecodable_base64_part_left_alone() -> None:
    data = HEAD + b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nA\r\n"
    assert replace_placeholder(data, URL) is data


IDENTITY = ["Acme <Foods> & Co. s.r.o., IČO 12345678", "Václavské náměstí 1, Praha"]


def test_footer_in_alternative_parts() -> None:
    out = add_footer(ALTERNATIVE, AMP_URL, IDENTITY)
    texts = _texts(out)
    plain, page = texts["text/plain"], texts["text/html"]
    assert plain.startswith(f"Leave: {AMP_URL}\n")
    assert f"Unsubscribe: {AMP_URL}\n" in plain
    assert plain.endswith("Václavské náměstí 1, Praha\n")
    assert page.index("x=1&amp;y=2") < page.index("</body>")
    assert page.count("x=1&amp;y=2") == 2  # the placeholder's link and the footer's
    assert "Acme &lt;Foods&gt; &amp; Co. s.r.o., IČO 12345678" in page
    _assert_only_text_bodies_changed(ALTERNATIVE, out)


def test_footer_only_first_plain_and_html_leaf() -> None:
    data = HEAD + (
        b'Content-Type: multipart/mixed; boundary="m"\r\n'
        b"\r\n"
        b"--m\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"\r\n"
        b"first\r\n"
        b"--m\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"\r\n"
        b"second\r\n"
        b"--m--\r\n"
    )
    out = add_footer(data, URL, ["Acme"])
    bodies = [
        part.get_content().replace("\r\n", "\n")
        for part in _parse(out).walk()
        if not part.is_multipart()
    ]
    assert bodies[0] == f"first\n\n--\nUnsubscribe: {URL}\nAcme\n"
    assert bodies[1] == "second"


def test_footer_transliterates_for_ascii_plain_part() -> None:
    out = add_footer(PLAIN, URL, IDENTITY)
    text = _texts(out)["text/plain"]
    assert text.endswith("Acme <Foods> & Co. s.r.o., ICO 12345678\nVaclavske namesti 1, Praha\n")
    assert out.isascii()


def test_footer_keeps_base64_and_qp() -> None:
    out = add_footer(NESTED, URL, IDENTITY)
    texts = _texts(out)
    assert texts["text/plain"].endswith("Václavské náměstí 1, Praha\n")
    assert "Václavské náměstí 1, Praha</p>" in texts["text/html"]  # no </body>: appended
    for part in text_parts(out):
        body = out[part.start : part.end]
        if part.cte == "base64":
            base64.b64decode(body, validate=False)
            assert b"Unsubscribe" not in body
        else:
            assert binascii.a2b_qp(body).decode().count("Unsubscribe") == 1
    _assert_only_text_bodies_changed(NESTED, out)


def test_footer_without_text_parts_returns_same_object() -> None:
    data = HEAD + b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n"
    assert add_footer(data, URL, IDENTITY) is data


def test_template_of_leaves_walked_before_the_header_block_grew() -> None:
    """The gateway walks the received bytes once and hands the leaves, moved, to the
    transform after the trace fields were added."""
    grown = b"Received: from a by b; Mon, 30 Nov 2026 10:00:00 +0000\r\n" + NESTED
    template = Template.of(grown, moved(text_parts(NESTED), len(grown) - len(NESTED)))
    assert template.render(URL) == replace_placeholder(grown, URL) != grown
