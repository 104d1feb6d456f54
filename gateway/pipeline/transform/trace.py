"""Trace fields the gateway adds in front of the received bytes (RFC 5321 §4.4)."""

from __future__ import annotations

import uuid

from gateway.pipeline.receive import Incoming
from gateway.timefmt import mail_date


def received_field(message: Incoming, hostname: str, queue_id: str) -> str:
    # RFC 3848: ESMTP, plus S for TLS and A for an authenticated client.
    protocol = "ESMTP" + ("S" if message.tls else "") + ("A" if message.auth_user else "")
    host, _, _ = message.client.rpartition(":")
    helo = "".join(c for c in message.helo if c.isprintable() and c not in "()\\") or "unknown"
    for_clause = f"\r\n\tfor <{message.recipients[0]}>" if len(message.recipients) == 1 else ""
    date = mail_date()
    return (
        f"Received: from {helo} ([{host.strip('[]')}])\r\n\tby {hostname} (Gatekeeper)"
        f" with {protocol} id {queue_id}{for_clause};\r\n\t{date}\r\n"
    )


def missing_fields(message: Incoming, hostname: str) -> tuple[str, str]:
    """Message-ID and Date when the app left them out, and the message's id.

    RFC 5322 §3.6 wants both; mailbox providers reject mail without a Message-ID.
    """
    fields = ""
    message_id = message.message_id
    if not message_id:
        message_id = f"{uuid.uuid4().hex}@{hostname}"
        fields += f"Message-ID: <{message_id}>\r\n"
    if not message.header("Date"):
        fields += f"Date: {mail_date()}\r\n"
    return fields, message_id
