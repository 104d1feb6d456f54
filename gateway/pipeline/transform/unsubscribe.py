"""One-click unsubscribe: List-Unsubscribe fields, the body placeholder and the footer.

Body edits touch only the text/plain and text/html leaves they change (mime.edit_parts):
every other byte stays as received.
"""

from __future__ import annotations

import binascii
import codecs
import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from gateway.pipeline.mime import TextPart, decode, edit_parts, line_break, text_parts

PLACEHOLDER = b"%unsubscribe_url%"
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058 §3.1

_CLOSE_BODY = b"</body>"


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
        return cls(
            data, tuple(p for p in parts if _holds_placeholder(data, p)), _first_of_each(parts)
        )

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

        return edit_parts(self.data, sorted(targets, key=lambda p: p.start), edit)


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
        return PLACEHOLDER in decode(raw, part.cte)
    except binascii.Error:
        return False  # undecodable: left as it came


def _footer(
    text: bytes, part: TextPart, url: str, identity_lines: Sequence[str], label: str
) -> bytes | None:
    if part.subtype == "html":
        return _html_footer(text, part.charset, url, identity_lines, label)
    return _plain_footer(text, part.charset, url, identity_lines, label)


def _plain_footer(
    text: bytes, charset: str, url: str, identity_lines: Sequence[str], label: str
) -> bytes | None:
    eol = line_break(text).decode()
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
