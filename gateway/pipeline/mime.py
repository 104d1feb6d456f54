"""A message's structure on its raw bytes: the header block, the text leaves, their bodies.

The relay never re-serialises a parsed message (existing DKIM signatures and folding must
survive), so these work on the received bytes and copy as little as they can: text leaves
are found by walking MIME boundaries, and an edited leaf is decoded, changed and re-encoded
with its own Content-Transfer-Encoding while every other byte stays as received. The
content rules read the leaves (gateway.pipeline.content), the transform edits them
(gateway.pipeline.transform.unsubscribe).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from email.message import Message
from email.parser import BytesHeaderParser

_MAX_DEPTH = 32  # nesting bound so a hostile message cannot recurse without end
_HEADER_PARSER = BytesHeaderParser()


@dataclass(frozen=True, slots=True)
class TextPart:
    """A text/plain or text/html leaf; ``start:end`` is its body within the message."""

    subtype: str
    cte: str
    charset: str
    start: int
    end: int


Edit = Callable[[bytes, TextPart], bytes | None]
"""Gets a leaf's decoded body; returns the new body, or None to leave the leaf as it is."""


def header_end(data: bytes, start: int = 0, end: int | None = None) -> int:
    """Offset just past the blank line that ends the header block of data[start:end].

    A block with no blank line (a message with no body) ends at ``end``; an entity that
    starts with the blank line has an empty header block (RFC 2046 §5.1.1 allows that).
    Bare LF is accepted as well as CRLF.
    """
    stop = len(data) if end is None else end
    for blank in (b"\r\n", b"\n"):
        if data.startswith(blank, start, stop):
            return start + len(blank)
    fields_end = _fields_end(data, start, stop)
    if fields_end is None:
        return stop
    return fields_end + (2 if data.startswith(b"\r\n", fields_end, stop) else 1)


def header_block(data: bytes) -> bytes:
    """The message's header fields up to, not including, the blank line that ends them."""
    if data.startswith((b"\r\n", b"\n")):
        return b""
    fields_end = _fields_end(data, 0, len(data))
    return data if fields_end is None else data[:fields_end]


def _fields_end(data: bytes, start: int, stop: int) -> int | None:
    """Where the blank line after the first field line begins; two plain searches, far
    cheaper than a regex (this runs on every message)."""
    crlf = data.find(b"\n\r\n", start, stop)
    lf = data.find(b"\n\n", start, stop if crlf < 0 else crlf + 1)
    found = lf if lf >= 0 else crlf
    return None if found < 0 else found + 1


def text_parts(data: bytes, headers: Message | None = None) -> list[TextPart]:
    """The text/plain and text/html leaves of a message that are not attachments.

    `headers`: the message's own header block, when it has been parsed already."""
    return list(_walk(data, 0, len(data), 0, headers))


def moved(parts: Sequence[TextPart] | None, delta: int) -> list[TextPart] | None:
    """The same leaves after the bytes before them grew by `delta` (fields added to or
    removed from the top header block)."""
    if parts is None:
        return None
    return [replace(p, start=p.start + delta, end=p.end + delta) for p in parts]


def part_text(data: bytes, part: TextPart) -> str:
    """A leaf's text: transfer encoding undone, charset decoded leniently."""
    raw = data[part.start : part.end]
    with contextlib.suppress(binascii.Error):  # undecodable: read it as it came
        raw = decode(raw, part.cte)
    try:
        return raw.decode(part.charset, errors="replace")
    except LookupError:  # an unknown or lying charset
        return raw.decode("utf-8", errors="replace")


def edit_parts(data: bytes, parts: Sequence[TextPart], edit: Edit) -> bytes:
    """Apply ``edit`` to the decoded bodies of ``parts`` (in message order) and splice the
    changed ones back in; ``data`` itself when nothing changed."""
    chunks: list[bytes] = []
    pos = 0
    for part in parts:
        raw = data[part.start : part.end]
        new = _edit_body(raw, part, edit)
        if new is not None:
            chunks += [data[pos : part.start], new]
            pos = part.end
    if not chunks:
        return data
    chunks.append(data[pos:])
    return b"".join(chunks)


def decode(raw: bytes, cte: str) -> bytes:
    """Undo a Content-Transfer-Encoding; raises binascii.Error for a broken body."""
    if cte == "base64":
        return base64.b64decode(raw)
    if cte == "quoted-printable":
        return binascii.a2b_qp(raw)
    return raw


def line_break(raw: bytes) -> bytes:
    """The line break a body uses: LF only when it has no CRLF at all."""
    return b"\n" if b"\n" in raw and b"\r\n" not in raw else b"\r\n"


def _walk(
    data: bytes, start: int, end: int, depth: int, headers: Message | None = None
) -> Iterator[TextPart]:
    body_start = header_end(data, start, end)
    if headers is None:
        headers = _HEADER_PARSER.parsebytes(data[start:body_start])
    ctype = headers.get_content_type()
    if ctype.startswith("multipart/"):
        boundary = headers.get_boundary()
        if boundary and depth < _MAX_DEPTH:
            for sub_start, sub_end in _subparts(data, body_start, end, boundary.encode()):
                yield from _walk(data, sub_start, sub_end, depth + 1)
    elif ctype in ("text/plain", "text/html") and headers.get_content_disposition() != "attachment":
        cte = str(headers.get("content-transfer-encoding", "7bit")).strip().lower()
        charset = headers.get_content_charset() or "us-ascii"
        yield TextPart(ctype.partition("/")[2], cte, charset, body_start, end)


def _subparts(data: bytes, start: int, end: int, boundary: bytes) -> Iterator[tuple[int, int]]:
    """Body spans between the delimiters of one multipart body (RFC 2046 §5.1.1).

    The line break before a delimiter belongs to the delimiter, not to the part.
    """
    # ``start`` always follows a line break (the header block's blank line), and the
    # lookbehind sees before ``start``, so a delimiter opening the body is found too.
    delimiter = re.compile(rb"(?<=\n)--" + re.escape(boundary) + rb"(--)?[ \t]*(?:\r?\n|\Z)")
    part_start: int | None = None
    for match in delimiter.finditer(data, start, end):
        if part_start is not None:
            yield part_start, max(part_start, _break_before(data, match.start()))
        if match.group(1):
            return
        part_start = match.end()
    if part_start is not None:
        yield part_start, end  # no close delimiter: a truncated message


def _break_before(data: bytes, pos: int) -> int:
    return pos - 2 if data[pos - 2 : pos] == b"\r\n" else pos - 1


def _edit_body(raw: bytes, part: TextPart, edit: Edit) -> bytes | None:
    try:
        text = decode(raw, part.cte)
    except binascii.Error:
        return None  # undecodable: leave the part as it came
    new = edit(text, part)
    return None if new is None else _encode(new, part.cte, raw)


def _encode(text: bytes, cte: str, original: bytes) -> bytes:
    eol = line_break(original)
    if cte == "base64":
        # RFC 2045 §6.8: encoded lines are at most 76 characters.
        encoded = base64.encodebytes(text).replace(b"\n", eol)
        return encoded if original.endswith(b"\n") else encoded[: -len(eol)]
    if cte == "quoted-printable":
        # b2a_qp keeps the text's own line breaks and wraps at 76 (RFC 2045 §6.7).
        return binascii.b2a_qp(text, istext=True)
    return text
