"""Receive stage: what the gateway knows about one message once DATA has ended.

Only the header block is parsed; the body stays the bytes the client sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

from gateway.pipeline.mime import header_block

_HEADERS = BytesHeaderParser(policy=compat32)
_FIELD = re.compile(r"[\041-\071\073-\176]+:")
"""A field name (printable ASCII but the colon) and its colon, as the parser's headerRE."""


@dataclass
class Incoming:
    session_id: str
    client: str
    helo: str
    auth_user: str
    tls: bool
    sender: str
    recipients: list[str]
    data: bytes
    headers: Message = field(init=False)

    def __post_init__(self) -> None:
        self.headers = parse_headers(self.data)

    def header(self, name: str) -> str:
        value = self.headers.get(name)
        return "" if value is None else str(value).strip()

    @property
    def message_id(self) -> str:
        return self.header("Message-ID").strip("<>")


def decoded_header(headers: Message, name: str) -> str:
    """A field's text with RFC 2047 encoded words decoded (as the content rules read it)."""
    raw = headers.get(name)
    if raw is None:
        return ""
    text = str(raw)
    if "=?" not in text:  # no encoded word (RFC 2047 §2): the common case, and 6 us cheaper
        return text.strip()
    try:
        return str(make_header(decode_header(text))).strip()
    except (UnicodeError, LookupError, HeaderParseError):
        return text.strip()


def parse_headers(data: bytes) -> Message:
    block = header_block(data)
    return _plain_fields(block) or _HEADERS.parsebytes(block)


def _plain_fields(block: bytes) -> Message | None:
    """The Message compat32's parser makes of a block of plain fields, at under half its
    cost (this runs on every message): every line a `Name: value` field (RFC 5322 §2.2)
    or the continuation of one, each ended by CRLF. Anything else (a bare CR or LF, a line
    that is no field, a continuation first, a `From ` line) is None: the parser's, with
    its defects. tests/pipeline/test_receive.py holds the two to the same result."""
    text = block.decode("ascii", "surrogateescape")
    lines = text.split("\r\n")
    if lines.pop() or text.count("\n") != len(lines) or text.count("\r") != len(lines):
        return None  # no CRLF at the end (or no line at all), or a bare CR or LF
    fields: list[list[str]] = []
    for line in lines:
        if line.startswith((" ", "\t")) and fields:
            fields[-1].append(line)
        elif _FIELD.match(line):
            fields.append([line])
        else:
            return None
    message = Message(policy=compat32)
    for first, *more in fields:
        name, _, value = first.partition(":")
        # compat32's header_source_parse: the first line's value left-stripped, the
        # continuations as they are (no line here ends in CR or LF for it to strip)
        message.set_raw(name, "\r\n".join([value.lstrip(" \t"), *more]))
    message.set_payload("")
    return message
