"""An upstream's multi-line refusal must not write fields into the bounce report.

RFC 5321 §4.2.1 lets a reply span lines (`550-...`); joined naively into the DSN's
`Diagnostic-Code:` each continuation line becomes a field of `message/delivery-status`
(RFC 3464), e.g. a second `Final-Recipient` or `Action: delivered`.
"""

from __future__ import annotations

import email
import email.policy
from email.message import Message

from tests.hostile.wire import NORMAL, send_message, wait_for_recipient

INJECTING_REPLY = (
    "550-Final-Recipient: rfc822; injected@evil.example\r\n"
    "550-Action: delivered\r\n"
    "550-Status: 2.0.0\r\n"
    "550 5.1.1 <gone@example.org>: no such user"
)


async def bounce_report(upstream, gateway_factory) -> Message:
    upstream.handler.refuse["gone@example.org"] = INJECTING_REPLY
    gw = await gateway_factory(upstream.url)
    reply = await send_message(gw.smtp_port, NORMAL, "app@example.com", "gone@example.org")
    assert reply.startswith(b"250 2.0.0"), reply
    captured = await wait_for_recipient(upstream, "app@example.com")
    (report,) = [m for m in captured if m.sender in ("", "<>")]
    parsed = email.message_from_bytes(report.data, policy=email.policy.compat32)
    assert parsed.get_content_type() == "multipart/report"
    return parsed


def status_blocks(report: Message) -> list[dict[str, list[str]]]:
    """The field blocks of message/delivery-status (RFC 3464 §2.1), field names lower-cased."""
    (status,) = [p for p in report.walk() if p.get_content_type() == "message/delivery-status"]
    # compat32 parses message/delivery-status into one sub-message per block.
    blocks = []
    for block in status.get_payload():
        fields: dict[str, list[str]] = {}
        for name, value in block.items():
            fields.setdefault(name.lower(), []).append(" ".join(str(value).split()))
        blocks.append(fields)
    return blocks


async def test_the_refused_recipient_is_reported(upstream, gateway_factory):
    report = await bounce_report(upstream, gateway_factory)
    recipients = [b.get("final-recipient") for b in status_blocks(report)]
    assert ["rfc822; gone@example.org"] in recipients


async def test_multi_line_reply_injects_no_status_fields(upstream, gateway_factory):
    report = await bounce_report(upstream, gateway_factory)
    per_recipient = [b for b in status_blocks(report) if "final-recipient" in b]
    assert [b["final-recipient"] for b in per_recipient] == [["rfc822; gone@example.org"]]
    (fields,) = per_recipient
    assert fields["action"] == ["failed"]
    assert fields["status"] == ["5.1.1"]
    assert all(len(values) == 1 for values in fields.values()), fields


async def test_the_folded_reply_still_names_the_bad_mailbox(upstream, gateway_factory):
    """The 5.1.1 on the reply's last line suppresses the address as a hard bounce, as it
    would on one line; the report is committed with the bounce, so it is there by now."""
    upstream.handler.refuse["gone@example.org"] = INJECTING_REPLY
    gw = await gateway_factory(upstream.url)
    reply = await send_message(gw.smtp_port, NORMAL, "app@example.com", "gone@example.org")
    assert reply.startswith(b"250 2.0.0"), reply
    await wait_for_recipient(upstream, "app@example.com")
    entries = await gw.store.suppressions("gone@example.org")
    assert [(e.scope, e.reason) for e in entries] == [("all", "hard-bounce")]
