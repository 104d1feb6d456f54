"""Delivery status notifications (RFC 3464) for recipients the upstream refused for good.

Once the gateway has answered 250 it owes the sender either delivery or a report; the
report goes to the envelope sender, from the null sender so it can never bounce in turn
(RFC 5321 §4.5.5), marked Auto-Submitted (RFC 3834).
"""

from __future__ import annotations

import email.utils
import uuid
from collections.abc import Sequence

from gateway.pipeline.mime import header_block
from gateway.store.records import SpoolMessage, SpoolRecipient, new_id
from gateway.timefmt import mail_date


def report_message(
    message: SpoolMessage, failed: Sequence[tuple[str, str]], hostname: str, now: float
) -> SpoolMessage:
    """The DSN as a spool entry to the envelope sender, due at once."""
    return SpoolMessage(
        id=new_id(),
        received_at=now,
        sender="",
        data=build_dsn(message, failed, hostname),
        recipients=[SpoolRecipient(message.sender, next_attempt=now)],
        message_id=message.message_id,
        purpose="transactional",
    )


def build_dsn(message: SpoolMessage, failed: Sequence[tuple[str, str]], hostname: str) -> bytes:
    """The report for `failed` (recipient, upstream reply) of `message`."""
    boundary = f"dsn-{uuid.uuid4().hex}"
    head = (
        f"From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\n"
        f"To: <{message.sender}>\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {mail_date()}\r\n"
        f"Message-ID: {email.utils.make_msgid(domain=hostname)}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status;\r\n"
        f'\tboundary="{boundary}"\r\n\r\n'
    ).encode()
    parts = [
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        + _human_text(message, failed, hostname).encode(),
        b"Content-Type: message/delivery-status\r\n\r\n"
        + _status_fields(message, failed, hostname),
        b"Content-Type: text/rfc822-headers\r\n\r\n" + message.head + header_block(message.data),
    ]
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + part + b"\r\n" for part in parts)
    return head + body + b"--" + boundary.encode() + b"--\r\n"


def _human_text(message: SpoolMessage, failed: Sequence[tuple[str, str]], hostname: str) -> str:
    lines = [
        f"This is the mail system at {hostname}.",
        "",
        "Your message could not be delivered to these recipients:",
        "",
        *(f"  <{recipient}>: {reply}" for recipient, reply in failed),
        "",
        f"Message-ID: <{message.message_id}>" if message.message_id else "",
    ]
    return "\r\n".join(lines).rstrip() + "\r\n"


def _status_fields(
    message: SpoolMessage, failed: Sequence[tuple[str, str]], hostname: str
) -> bytes:
    # RFC 3464 §2.2 per-message fields, then §2.3 per-recipient fields, blocks separated by
    # blank lines.
    blocks = [f"Reporting-MTA: dns; {hostname}\r\nX-Gatekeeper-Queue-ID: {message.id}\r\n"]
    for recipient, reply in failed:
        code = reply[:3] if reply[:3].isdigit() else "550"
        status = _enhanced(reply) or f"{code[0]}.0.0"
        blocks.append(
            f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: {status}\r\n"
            f"Diagnostic-Code: smtp; {reply}\r\n"
        )
    return "\r\n".join(blocks).encode()


def _enhanced(reply: str) -> str | None:
    parts = reply.split(maxsplit=2)
    if len(parts) >= 2 and parts[1][:1] in "245" and parts[1].count(".") == 2:
        return parts[1]
    return None
