"""Small readers shared by the report parsers: field blocks, addresses, status codes."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from email.message import Message

from gateway.addresses import AddressError, canonical

Block = list[tuple[str, str]]

DIAGNOSTIC_MAX = 500  # characters kept of a diagnostic: evidence, not an archive
_HEADER_VALUE_MAX = 998  # RFC 5322 §2.1.1 line limit: longer values are junk or attacks
_HEADERS_MAX = 200
_FIELD = re.compile(r"([!-9;-~]+)[ \t]*:(.*)")
# RFC 3463 enhanced status: class.subject.detail. Anchored on non-digits so that IP
# addresses (1.2.3.4) and version numbers do not pass for codes.
_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
_SMTP_REPLY = re.compile(r"(?<![\d.])([45])\d\d(?=[ -]|$)")
_ANGLE = re.compile(r"<([^<>\s]+@[^<>\s]+)>")
_BARE = re.compile(r"[^\s<>();:,\"'\[\]]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_SPACE = re.compile(r"\s+")


def field_blocks(text: str) -> list[Block]:
    """RFC 3464 §2.1 / RFC 5965 §3.1 field blocks: header-like lines, blank-line separated."""
    blocks: list[Block] = []
    current: Block = []
    for raw in text.splitlines():
        if not raw.strip():
            if current:
                blocks.append(current)
                current = []
        elif raw[0] in " \t" and current:
            name, value = current[-1]
            current[-1] = (name, f"{value} {raw.strip()}"[:_HEADER_VALUE_MAX])
        else:
            match = _FIELD.match(raw)
            if match:
                current.append((match[1].lower(), match[2].strip()[:_HEADER_VALUE_MAX]))
    if current:
        blocks.append(current)
    return blocks


def message_blocks(items: Iterable[tuple[str, object]]) -> Block:
    """A parsed header list as a block: lower-case names, one-line string values."""
    return [(str(k).lower(), one_line(str(v), _HEADER_VALUE_MAX)) for k, v in items]


def get(block: Sequence[tuple[str, str]], name: str) -> str:
    for key, value in block:
        if key == name:
            return value
    return ""


def get_all(block: Sequence[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in block if key == name]


def typed_value(value: str) -> str:
    """`rfc822; <a@b>` or `dns; mx.example` without its type and brackets."""
    _, semi, rest = value.partition(";")
    text = (rest if semi else value).strip()
    match = _ANGLE.search(text)
    if match:
        return match[1]
    return text.split()[0].strip("<>") if text.split() else ""


def address(value: str) -> str:
    """The canonical address (gateway.addresses) where it parses, else the text as given."""
    text = value.strip().strip("<>").strip()
    try:
        return canonical(text)
    except AddressError:
        return text


def addresses_in(text: str) -> list[str]:
    """Addresses in free text, angle-bracketed ones first, in order, without repeats."""
    found = [m[1] for m in _ANGLE.finditer(text)] + _BARE.findall(text)
    seen: dict[str, None] = {}
    for item in found:
        seen.setdefault(item.strip(".").lower(), None)
    return list(seen)


def status_in(text: str) -> str:
    """The first enhanced status code in the text, or a class-only one from an SMTP reply."""
    match = _STATUS.search(text)
    if match:
        return f"{match[1]}.{int(match[2])}.{int(match[3])}"
    reply = _SMTP_REPLY.search(text)
    return f"{reply[1]}.0.0" if reply else ""


def one_line(text: str, limit: int = DIAGNOSTIC_MAX) -> str:
    return _SPACE.sub(" ", unescape(text)).strip()[:limit]


def unescape(text: str) -> str:
    """UTF-8 text back from the stdlib parser's surrogate escapes of 8-bit header bytes."""
    if text.isascii():
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def header_pairs(message: Message) -> tuple[tuple[str, str], ...]:
    """The first headers of a message as (name, one-line value), bounded in count and size."""
    pairs: list[tuple[str, str]] = []
    for name, value in message.items()[:_HEADERS_MAX]:
        pairs.append((str(name), one_line(str(value), _HEADER_VALUE_MAX)))
    return tuple(pairs)


def message_id(value: str) -> str:
    match = re.search(r"<([^<>]+)>", value)
    return (match[1] if match else value).strip()
