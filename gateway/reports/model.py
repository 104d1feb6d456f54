"""What a report says, as small frozen values (docs/reports.md names every field and word).

A `Report` is one message that came back; each `RecipientOutcome` is what it means for one
recipient, with `why` naming the rule that decided it, so the evidence can go into a
decision row unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

# Report kinds: what the message was.
DSN: Final = "dsn"  # RFC 3464 multipart/report; report-type=delivery-status
ARF: Final = "arf"  # RFC 5965 multipart/report; report-type=feedback-report
BOUNCE: Final = "bounce"  # a non-standard bounce (Yahoo, qmail, old Exim, Exchange, ...)
AUTO_REPLY: Final = "auto-reply"  # RFC 3834 (vacation, out of office)
UNKNOWN: Final = "unknown"  # none of these, or unreadable
KINDS: Final = (DSN, ARF, BOUNCE, AUTO_REPLY, UNKNOWN)

# Outcomes: what the report means for one recipient.
HARD: Final = "hard"  # the mailbox itself failed for good: suppress, reason hard-bounce
SOFT: Final = "soft"  # transient or undetermined: counts toward bounces.soft_limit
SENDER: Final = "sender"  # the sender's or the content's fault: never suppresses the recipient
COMPLAINT: Final = "complaint"  # ARF abuse/fraud/virus/other: suppress non-transactional
UNSUBSCRIBE: Final = "unsubscribe"  # ARF opt-out/unsubscribe
AUTO_REPLIED: Final = "auto-reply"  # recorded, otherwise ignored
DELIVERED: Final = "delivered"  # DSN delivered/relayed/expanded: recorded, otherwise ignored
OUTCOMES: Final = (HARD, SOFT, SENDER, COMPLAINT, UNSUBSCRIBE, AUTO_REPLIED, DELIVERED)


@dataclass(frozen=True, slots=True)
class RecipientOutcome:
    """One recipient's line of a report.

    `address` is the one to act on: the Original-Recipient when the report gives one (the
    address the gateway sent to), else the Final-Recipient; canonical (gateway.addresses)
    where it parses. None when the report hides it (a redacted ARF): match by `Report.ref`
    or the VERP token then.
    """

    address: str | None
    outcome: str
    why: str
    final: str = ""  # Final-Recipient as reported
    original: str = ""  # Original-Recipient as reported
    action: str = ""  # DSN Action, lower case ("failed", "delayed", ...)
    status: str = ""  # enhanced status code "5.1.1", or "" if none was found
    diagnostic: str = ""  # Diagnostic-Code or the bounce text near the address, one line
    remote_mta: str = ""


@dataclass(frozen=True, slots=True)
class Report:
    """One report: its kind, per-message evidence and the per-recipient outcomes."""

    kind: str
    why: str
    recipients: tuple[RecipientOutcome, ...] = ()
    reporting_mta: str = ""
    original_message_id: str = ""  # without angle brackets
    ref: str = ""  # the X-Gatekeeper-Ref value of the original, if it came back
    return_path: str = ""  # the original's Return-Path (a VERP address, when VERP is on)
    feedback_type: str = ""  # ARF Feedback-Type, lower case
    reported_domain: str = ""
    source_ip: str = ""
    original_headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)
