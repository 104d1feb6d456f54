"""Bytes in, a Report out: the one entry point (docs/reports.md).

The order of the checks matters: a DSN or ARF report is recognised by its MIME structure
before anything else (DSNs carry Auto-Submitted too); the strong RFC 3834 headers come
before flufl.bounce's heuristics (which would read an out-of-office note naming an address
as a bounce); the weak signs of an auto-reply (its subject) only after them.
"""

from __future__ import annotations

import binascii
import quopri
import re
from dataclasses import replace
from email.message import Message
from email.parser import BytesParser, HeaderParser
from email.policy import compat32
from typing import Final

from gateway.reports import arf, autoreply, dsn, fields, nonstandard
from gateway.reports.fields import Block
from gateway.reports.model import (
    ARF,
    AUTO_REPLIED,
    AUTO_REPLY,
    BOUNCE,
    DSN,
    UNKNOWN,
    RecipientOutcome,
    Report,
)

# Reports are small; what matters (the status part, the feedback part, the returned
# headers) comes first. A bound keeps a hostile "report" from costing more than this.
MAX_BYTES: Final = 1024 * 1024
_REF_HEADER: Final = "x-gatekeeper-ref"
_DEPTH_MAX: Final = 3
_INLINE_HEADER = re.compile(
    r"^(message-id|x-gatekeeper-ref|return-path)[ \t]*:[ \t]*(\S[^\r\n]*)", re.I | re.M
)


def parse(data: bytes) -> Report:
    """The report in `data`; never raises: unreadable input is kind "unknown" with a why."""
    try:
        message = BytesParser(policy=compat32).parsebytes(data[:MAX_BYTES])
        return _parse(message)
    except Exception as exc:  # a report mailbox takes input from anyone: no input may crash it
        return Report(kind=UNKNOWN, why=f"unreadable: {type(exc).__name__}")


def _parse(message: Message, depth: int = 0) -> Report:
    parts = _parts(message)
    original = _original(parts)
    base = _evidence(original, message)
    feedback_part = _first(parts, "message/feedback-report")
    if feedback_part is not None:
        block = _single_block(feedback_part)
        return replace(
            base,
            kind=ARF,
            why="multipart/report feedback-report (RFC 5965)",
            recipients=arf.recipients(block, _header_block(original)),
            reporting_mta=fields.typed_value(fields.get(block, "reporting-mta")),
            feedback_type=fields.get(block, "feedback-type").lower(),
            reported_domain=fields.get(block, "reported-domain"),
            source_ip=fields.get(block, "source-ip"),
        )
    status_part = _first(parts, "message/delivery-status", "message/global-delivery-status")
    if status_part is not None:
        per_message, blocks = dsn.split_blocks(_blocks(status_part))
        # Some MTAs repeat a block per attempt: one outcome each is evidence enough.
        found = tuple(dict.fromkeys(r for r in map(dsn.recipient, blocks) if r is not None))
        if found:
            lines = nonstandard.body_text(message).splitlines()
            addresses = [r.final or r.original for r in found]
            found = tuple(nonstandard.reread(r, lines, addresses) for r in found)
            return replace(
                base,
                kind=DSN,
                why="multipart/report delivery-status (RFC 3464)",
                recipients=found,
                reporting_mta=fields.typed_value(fields.get(per_message, "reporting-mta")),
            )
    wrapped = _wrapped_report(parts)
    if wrapped is not None and depth < _DEPTH_MAX:
        return _parse(wrapped, depth + 1)
    return _informal(message, base)


def _wrapped_report(parts: list[Message]) -> Message | None:
    """A report forwarded as an attachment (some gateways and feedback loops do)."""
    for part in parts[1:]:
        if part.get_content_type() == "message/rfc822" and part.is_multipart():
            inner = part.get_payload(0)
            if isinstance(inner, Message) and inner.get_content_type() == "multipart/report":
                return inner
    return None


def _informal(message: Message, base: Report) -> Report:
    strong = autoreply.rule(message, strong_only=True)
    if strong and not nonstandard.from_daemon(message):
        return _auto_reply(message, strong, base)
    found = nonstandard.recipients(message)
    if found:
        return replace(
            base, kind=BOUNCE, why="non-standard bounce (flufl.bounce)", recipients=found
        )
    weak = autoreply.rule(message, strong_only=False)
    if weak:
        return _auto_reply(message, weak, base)
    if nonstandard.looks_like_bounce(message):
        return replace(base, kind=BOUNCE, why="a bounce that names no recipient")
    return base


def _auto_reply(message: Message, why: str, base: Report) -> Report:
    who = autoreply.sender(message)
    outcome = RecipientOutcome(address=who or None, outcome=AUTO_REPLIED, why=why)
    return replace(base, kind=AUTO_REPLY, why=f"RFC 3834 auto-reply ({why})", recipients=(outcome,))


def _parts(message: Message) -> list[Message]:
    """Every part of the report itself, depth first, not descending into message/* parts."""
    found = [message]
    if message.get_content_maintype() == "multipart" and message.is_multipart():
        for sub in message.get_payload():
            if isinstance(sub, Message):
                found.extend(_parts(sub))
    return found


def _first(parts: list[Message], *types: str) -> Message | None:
    return next((p for p in parts if p.get_content_type() in types), None)


def _original(parts: list[Message]) -> Message | None:
    """The returned message or its headers (RFC 3464 §2 third part, RFC 5965 §2 third)."""
    for part in parts[1:]:
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global") and part.is_multipart():
            inner = part.get_payload(0)
            if isinstance(inner, Message):
                return inner
        if ctype in ("text/rfc822-headers", "message/rfc822-headers", "text/global-headers"):
            return HeaderParser(policy=compat32).parsestr(_text(part))
        if ctype in ("message/rfc822", "message/global"):
            return HeaderParser(policy=compat32).parsestr(_text(part))
    return None


def _evidence(original: Message | None, message: Message) -> Report:
    """The per-message evidence every kind shares, as an "unknown" report to refine."""
    if original is not None:
        values = {k: str(original.get(k, "")) for k in ("message-id", _REF_HEADER, "return-path")}
        headers = fields.header_pairs(original)
    else:
        values = {}
        for match in _INLINE_HEADER.finditer(nonstandard.body_text(message)):
            values.setdefault(match[1].lower(), match[2])
        headers = ()
    return Report(
        kind=UNKNOWN,
        why="no report recognised",
        original_message_id=fields.message_id(fields.one_line(values.get("message-id", ""))),
        ref=fields.one_line(values.get(_REF_HEADER, ""), 200),
        return_path=fields.typed_value(fields.one_line(values.get("return-path", ""))),
        original_headers=headers,
    )


def _blocks(part: Message) -> list[Block]:
    """The field blocks of a status or feedback part, however the parser stored it.

    The stdlib parser splits message/delivery-status into one Message per block but any
    other message/* type (global-delivery-status, feedback-report) into one Message whose
    body holds the rest, and it does not decode a base64 status part at all: so the blocks
    are read again from the part's text.
    """
    return fields.field_blocks(_text(part))


def _single_block(part: Message) -> Block:
    return [pair for block in _blocks(part) for pair in block]


def _header_block(original: Message | None) -> Block:
    return [] if original is None else fields.message_blocks(original.items())


def _text(part: Message) -> str:
    """A part's body as text, its transfer encoding (base64, quoted-printable) undone."""
    payload = part.get_payload()
    if isinstance(payload, list):
        raw = fields.unescape("\n\n".join(_unparsed(m) for m in payload if isinstance(m, Message)))
        encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
        if encoding == "base64":
            return _unbase64(raw)
        if encoding == "quoted-printable":
            return quopri.decodestring(raw.encode("utf-8", "replace")).decode("utf-8", "replace")
        return raw
    decoded = part.get_payload(decode=True)
    if isinstance(decoded, bytes):
        return decoded.decode("utf-8", "replace")
    return payload if isinstance(payload, str) else ""


def _unparsed(block: Message) -> str:
    # Neither as_string() nor get_payload() keep 8-bit bytes (RFC 6533 UTF-8 addresses):
    # both decode them as ASCII with "?"; decode=True hands back the bytes as they came.
    body = block.get_payload(decode=True)
    head = "\n".join(f"{name}: {value}" for name, value in block.items())
    return f"{head}\n\n{body.decode('utf-8', 'replace')}" if isinstance(body, bytes) else head


def _unbase64(text: str) -> str:
    """Lenient base64, as a cut-off report needs: a lone last character carries no whole
    byte (RFC 4648 §4) and is dropped; missing padding is added."""
    chars = re.sub(r"[^A-Za-z0-9+/]", "", text)
    if len(chars) % 4 == 1:
        chars = chars[:-1]
    chars += "=" * (-len(chars) % 4)
    return binascii.a2b_base64(chars).decode("utf-8", "replace")
