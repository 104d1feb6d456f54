"""gateway.pipeline.mime: the header block and the text leaves of a message, on its raw bytes."""

from __future__ import annotations

import base64

import pytest

from gateway.pipeline.mime import (
    TextPart,
    edit_parts,
    header_block,
    header_end,
    moved,
    part_text,
    text_parts,
)

MESSAGE = (
    b"From: App <app@example.com>\r\n"
    b"Subject: Hello\r\n"
    b"\r\n"
    b"Body line\r\n"
    b"X-Not-A-Field: in the body\r\n"
)

NESTED = (
    b"From: App <app@example.com>\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"--outer\r\n"
    b'Content-Type: multipart/alternative; boundary="inner"\r\n'
    b"\r\n"
    b"--inner\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n" + base64.encodebytes("Grüße\n".encode()).replace(b"\n", b"\r\n") + b"\r\n"
    b"--inner\r\n"
    b"Content-Type: text/html; charset=iso-8859-2\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"<p>N=E1m=ECst=ED</p>\r\n"
    b"--inner--\r\n"
    b"\r\n"
    b"--outer\r\n"
    b"Content-Type: text/plain\r\n"
    b'Content-Disposition: attachment; filename="note.txt"\r\n'
    b"\r\n"
    b"an attachment, not a text leaf\r\n"
    b"--outer--\r\n"
)


@pytest.mark.parametrize(
    ("data", "end", "block"),
    [
        (MESSAGE, MESSAGE.index(b"Body"), b"From: App <app@example.com>\r\nSubject: Hello\r\n"),
        (b"A: 1\nB: 2\n\nbody\n", 11, b"A: 1\nB: 2\n"),
        (b"A: 1\r\nB: 2\r\n", 12, b"A: 1\r\nB: 2\r\n"),  # no body
        (b"A: 1\r\n\r\n", 8, b"A: 1\r\n"),
        (b"\r\nbody", 2, b""),  # an empty header block
        (b"A: 1\n\r\nbody", 7, b"A: 1\n"),  # the first blank line wins, whatever its ending
    ],
)
def test_header_end_and_block(data: bytes, end: int, block: bytes) -> None:
    assert header_end(data) == end
    assert header_block(data) == block
    assert data[:end].startswith(block)


def test_header_end_within_a_range() -> None:
    data = b"xxA: 1\r\n\r\nbodyyy"
    assert header_end(data, 2, len(data)) == 10
    assert header_end(data, 2, 6) == 6


def test_text_parts_are_the_inline_leaves() -> None:
    parts = text_parts(NESTED)
    assert [(p.subtype, p.cte, p.charset) for p in parts] == [
        ("plain", "base64", "utf-8"),
        ("html", "quoted-printable", "iso-8859-2"),
    ]
    assert NESTED[parts[1].start : parts[1].end] == b"<p>N=E1m=ECst=ED</p>"
    assert [part_text(NESTED, p) for p in parts] == ["Grüße\n", "<p>Náměstí</p>"]


def test_a_single_part_message_is_one_leaf() -> None:
    [part] = text_parts(MESSAGE)
    assert part == TextPart("plain", "7bit", "us-ascii", MESSAGE.index(b"Body"), len(MESSAGE))


def test_part_text_is_lenient() -> None:
    data = b"Content-Type: text/plain; charset=x-unknown\r\n\r\nna\xc3\xafve\r\n"
    assert part_text(data, text_parts(data)[0]) == "naïve\r\n"
    broken = b"Content-Transfer-Encoding: base64\r\n\r\nA\r\n"
    assert part_text(broken, text_parts(broken)[0]) == "A\r\n"  # read as it came


def test_truncated_multipart_keeps_its_last_leaf() -> None:
    data = b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n\r\nno close\r\n'
    [part] = text_parts(data)
    assert data[part.start : part.end] == b"no close\r\n"


def test_leaves_move_with_the_top_header_block() -> None:
    grown = b"Received: from a by b; Mon, 30 Nov 2026 10:00:00 +0000\r\n" + NESTED
    assert moved(text_parts(NESTED), len(grown) - len(NESTED)) == text_parts(grown)
    assert moved(None, 10) is None


def test_edit_parts_reencodes_only_what_changed() -> None:
    parts = text_parts(NESTED)

    def spell(text: bytes, part: TextPart) -> bytes | None:
        return text.replace("ß".encode(), b"ss") if part.subtype == "plain" else None

    out = edit_parts(NESTED, parts, spell)
    [plain, html] = text_parts(out)
    assert part_text(out, plain) == "Grüsse\n"
    assert out[html.start : html.end] == b"<p>N=E1m=ECst=ED</p>"
    assert out.endswith(NESTED[parts[0].end :])
    assert edit_parts(NESTED, parts, lambda text, part: None) is NESTED
