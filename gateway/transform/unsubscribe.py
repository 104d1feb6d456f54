"""One-click unsubscribe: List-Unsubscribe fields, the body placeholder and the footer.

Body edits touch only the text/plain and text/html leaves they change: part bodies are
found by walking MIME boundaries on the raw bytes, each changed body is decoded, edited and
re-encoded with its own Content-Transfer-Encoding, and every other byte stays as received.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import html
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from email.message import Message
from email.parser import BytesHeaderParser
from urllib.parse import quote

from gateway.transform.headers import header_end

PLACEHOLDER = b"%unsubscribe_url%"
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058 §3.1

# Only these encodings can hide the placeholder from a plain byte search.
_ENCODED_CTE = re.compile(
    rb"(?im)^content-transfer-encoding:[ \t]*(?:\r?\n[ \t]+)?(?:base64|quoted-printable)"
)
_CLOSE_BODY = b"</body>"
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


def list_unsubscribe_fields(https_url: str, mailto: str) -> list[tuple[str, str]]:
    """The RFC 2369 List-Unsubscribe field and the RFC 8058 one-click marker."""
    # RFC 8058 §3.1: the one-click URI must be HTTPS; RFC 2369 §2: URLs in angle brackets
    # with no whitespace inside.
    if not https_url.startswith("https://"):
        raise ValueError("one-click unsubscribe needs an https:// URL")
    if not mailto.startswith("mailto:"):
        raise ValueError("mailto must be a mailto: URI")
    for url in (https_url, mailto):
        if re.search(r"[\s<>]", url):
            raise ValueError(f"URL {url!r} contains whitespace or angle brackets")
    return [
        ("List-Unsubscribe", f"<{https_url}>, <{mailto}>"),
        ("List-Unsubscribe-Post", ONE_CLICK),
    ]


def mailto_uri(address: str, subject: str | None) -> str:
    """A mailto: URI from ``tokens.mailto_address`` output (RFC 6068)."""
    uri = f"mailto:{quote(address, safe='@+')}"
    return f"{uri}?subject={quote(subject, safe='')}" if subject else uri


@dataclass(frozen=True, slots=True)
class Template:
    """A message's text leaves, walked once; every recipient's copy is spliced from it."""

    data: bytes
    placeholders: tuple[TextPart, ...]
    """The leaves whose decoded text holds ``%unsubscribe_url%``."""
    footers: tuple[TextPart, ...]
    """The first text/plain and the first text/html leaf (the two renderings of one body:
    further inline text parts are content of their own)."""

    @classmethod
    def of(cls, data: bytes, parts: Sequence[TextPart] | None = None) -> Template:
        """`parts` are text_parts(data) when the caller has walked the message already."""
        if parts is None:
            parts = text_parts(data)
        return cls(data, tuple(p for p in parts if _holds_placeholder(data, p)),
                   _first_of_each(parts))

    def render(
        self, url: str, footer: Sequence[str] | None = None, label: str = "Unsubscribe"
    ) -> bytes:
        """The copy with ``url`` in place of every placeholder and, when `footer` (identity
        lines) is given, a footer with the link; ``data`` itself when nothing changes."""
        targets = set(self.placeholders)
        if footer is not None:
            targets.update(self.footers)
        value, escaped = url.encode("ascii"), html.escape(url).encode("ascii")

        def edit(text: bytes, part: TextPart) -> bytes | None:
            new = text
            if part in self.placeholders:
                new = new.replace(PLACEHOLDER, escaped if part.subtype == "html" else value)
            if footer is not None and part in self.footers:
                new = _footer(new, part, url, footer, label) or new
            return None if new is text else new

        return _edit_parts(self.data, sorted(targets, key=lambda p: p.start), edit)


def replace_placeholder(data: bytes, url: str) -> bytes:
    """Put ``url`` in place of every ``%unsubscribe_url%`` in text bodies.

    Returns ``data`` itself when no body holds the placeholder.
    """
    if PLACEHOLDER not in data and not _ENCODED_CTE.search(data):
        return data
    return Template.of(data).render(url)


def add_footer(
    data: bytes, url: str, identity_lines: Sequence[str], label: str = "Unsubscribe"
) -> bytes:
    """Append an unsubscribe link and the sender's identity to the message's text bodies
    (placeholders are left as they are)."""
    return Template(data, (), _first_of_each(text_parts(data))).render(url, identity_lines, label)


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
        raw = _decode(raw, part.cte)
    try:
        return raw.decode(part.charset, errors="replace")
    except LookupError:  # an unknown or lying charset
        return raw.decode("utf-8", errors="replace")


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


def _edit_parts(data: bytes, parts: Sequence[TextPart], edit: Edit) -> bytes:
    """Apply ``edit`` to the decoded bodies of ``parts``; splice changed ones back in."""
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


def _first_of_each(parts: Sequence[TextPart]) -> tuple[TextPart, ...]:
    firsts: dict[str, TextPart] = {}
    for part in parts:
        firsts.setdefault(part.subtype, part)
    return tuple(firsts.values())


def _holds_placeholder(data: bytes, part: TextPart) -> bool:
    raw = data[part.start : part.end]
    if part.cte not in ("base64", "quoted-printable"):
        return PLACEHOLDER in raw
    try:
        return PLACEHOLDER in _decode(raw, part.cte)
    except binascii.Error:
        return False  # undecodable: left as it came


def _footer(
    text: bytes, part: TextPart, url: str, identity_lines: Sequence[str], label: str
) -> bytes | None:
    if part.subtype == "html":
        return _html_footer(text, part.charset, url, identity_lines, label)
    return _plain_footer(text, part.charset, url, identity_lines, label)


def _edit_body(raw: bytes, part: TextPart, edit: Edit) -> bytes | None:
    try:
        text = _decode(raw, part.cte)
    except binascii.Error:
        return None  # undecodable: leave the part as it came
    new = edit(text, part)
    return None if new is None else _encode(new, part.cte, raw)


def _decode(raw: bytes, cte: str) -> bytes:
    if cte == "base64":
        return base64.b64decode(raw)
    if cte == "quoted-printable":
        return binascii.a2b_qp(raw)
    return raw


def _encode(text: bytes, cte: str, original: bytes) -> bytes:
    eol = _eol(original)
    if cte == "base64":
        # RFC 2045 §6.8: encoded lines are at most 76 characters.
        encoded = base64.encodebytes(text).replace(b"\n", eol)
        return encoded if original.endswith(b"\n") else encoded[: -len(eol)]
    if cte == "quoted-printable":
        # b2a_qp keeps the text's own line breaks and wraps at 76 (RFC 2045 §6.7).
        return binascii.b2a_qp(text, istext=True)
    return text


def _eol(raw: bytes) -> bytes:
    return b"\n" if b"\n" in raw and b"\r\n" not in raw else b"\r\n"


def _plain_footer(
    text: bytes, charset: str, url: str, identity_lines: Sequence[str], label: str
) -> bytes | None:
    eol = _eol(text).decode()
    lines = ["", "--", f"{label}: {url}", *identity_lines]
    footer = eol.join(lines) + eol
    if text and not text.endswith(b"\n"):
        footer = eol + footer
    encoded = _encode_text(footer, charset, html_refs=False)
    return None if encoded is None else text + encoded


def _html_footer(
    text: bytes, charset: str, url: str, identity_lines: Sequence[str], label: str
) -> bytes | None:
    identity = "<br>".join(html.escape(line) for line in identity_lines)
    footer = (
        '<hr><p style="font-size:12px;color:#666666">'
        f'<a href="{html.escape(url)}">{html.escape(label)}</a>'
        f"{'<br>' + identity if identity else ''}</p>"
    )
    encoded = _encode_text(footer, charset, html_refs=True)
    if encoded is None:
        return None
    at = text.lower().rfind(_CLOSE_BODY)
    return text + encoded if at < 0 else text[:at] + encoded + text[at:]


def _encode_text(text: str, charset: str, html_refs: bool) -> bytes | None:
    """Encode footer text in the part's charset; None for a charset Python does not know.

    Characters the charset lacks become character references in HTML; in plain text
    they are transliterated to ASCII (``náměstí`` -> ``namesti``) rather than lost as '?'.
    """
    try:
        codecs.lookup(charset)
    except LookupError:
        return None
    if html_refs:
        return text.encode(charset, "xmlcharrefreplace")
    try:
        return text.encode(charset)
    except UnicodeEncodeError:
        ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        return ascii_text.encode(charset, "replace")
