"""Non-standard bounces: flufl.bounce finds the addresses, the text near each gives the reason.

flufl.bounce (Mailman's detectors for Yahoo, qmail, Exim, Exchange, SMTP32, GroupWise, ...)
answers only "which addresses failed, temporarily or for good". The reason is in the text
around each address (qmail's "Sorry, no mailbox here by that name. (#5.1.1)", Yahoo's "554
delivery error: dd This user doesn't have a yahoo.com account"), which is read here and
classified as a DSN's Diagnostic-Code would be.
"""

from __future__ import annotations

import re
from dataclasses import replace
from email.message import Message
from typing import Final

from flufl.bounce import all_failures

from gateway.reports import fields
from gateway.reports.classify import UNDETERMINED, classify
from gateway.reports.model import RecipientOutcome

_TEXT_MAX: Final = 64 * 1024
_CONTEXT_LINES: Final = 6
_PREAMBLE_LINES: Final = 60
# Where the report's own text ends and the returned copy of the message begins.
_COPY_STARTS = re.compile(
    r"original message|below this line|copy of the (original )?message|returned mail follows|"
    r"message header follows|unsent message below|start of returned message|"
    r"message text follows|original message follows|^-+ ?original",
    re.I,
)
_TAG = re.compile(r"<[^>]*>")
_BOUNCE_FROM = re.compile(
    r"mailer-daemon|postmaster|mail delivery|delivery subsystem|mail system", re.I
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|delivery (status|failure|notification|has failed)|returned mail|"
    r"failure notice|mail delivery failed|could not be delivered|nondeliverable|non-delivery|"
    r"\bmail error\b",
    re.I,
)


def recipients(message: Message) -> tuple[RecipientOutcome, ...]:
    """What flufl.bounce finds, each with the reason read from the text near it."""
    try:
        temporary, permanent = all_failures(message)
    except Exception:
        # Some of flufl.bounce's detectors raise on malformed mail (Yale's on a From with no
        # address, Sina's and Postfix's on 8-bit header bytes); it logs the traceback on
        # the "flufl.bounce" logger. Such a message is read as naming no recipient.
        return ()
    if not temporary and not permanent:
        return ()
    lines = body_text(message).splitlines()
    found = [(a, "delayed") for a in sorted(temporary)] + [(a, "failed") for a in sorted(permanent)]
    outcomes = []
    for raw, action in found:
        address = raw.decode("ascii", "replace")
        context = _context(lines, address)
        status = fields.status_in(context)
        outcome, why = classify(action, status, context)
        outcomes.append(
            RecipientOutcome(
                address=fields.address(address),
                outcome=outcome,
                why=why,
                final=address,
                action=action,
                status=status,
                diagnostic=context,
            )
        )
    addresses = [raw.decode("ascii", "replace") for raw, _ in found]
    return tuple(reread(o, lines, addresses) for o in outcomes)


def reread(outcome: RecipientOutcome, lines: list[str], addresses: list[str]) -> RecipientOutcome:
    """An undetermined outcome decided by the whole report text, where that says more.

    The reason is often a paragraph away from the address ("... for the following reason:",
    a session transcript) or only in a DSN's human-readable part ("disk quota exceeded").
    """
    if not outcome.why.startswith(UNDETERMINED):
        return outcome
    wide = _preamble(lines, addresses)
    status = outcome.status or fields.status_in(wide)
    found, why = classify(outcome.action, status, wide)
    if why.startswith(UNDETERMINED):
        return outcome
    return replace(
        outcome,
        outcome=found,
        why=f"report text: {why}",
        status=status,
        diagnostic=outcome.diagnostic or fields.one_line(wide),
    )


def from_daemon(message: Message) -> bool:
    """From a mail system rather than a person (bounces carry Auto-Submitted too)."""
    return bool(_BOUNCE_FROM.search(str(message.get("from", ""))))


def looks_like_bounce(message: Message) -> bool:
    return from_daemon(message) or bool(_BOUNCE_SUBJECT.search(str(message.get("subject", ""))))


def body_text(message: Message) -> str:
    """The report's own text parts, decoded, not descending into the returned message."""
    chunks: list[str] = []
    size = 0
    for part in _own_parts(message):
        if part.get_content_maintype() != "text" or part.get_content_subtype() == "rfc822-headers":
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        text = payload.decode(_charset(part), "replace")
        if part.get_content_subtype() == "html":
            text = _TAG.sub(" ", text)
        chunks.append(text[: _TEXT_MAX - size])
        size += len(chunks[-1])
        if size >= _TEXT_MAX:
            break
    return "\n".join(chunks)


def _own_parts(message: Message) -> list[Message]:
    if not message.is_multipart():
        return [message]
    parts: list[Message] = []
    for sub in message.get_payload():
        if isinstance(sub, Message) and sub.get_content_maintype() != "message":
            parts.extend(_own_parts(sub))
    return parts


def _charset(part: Message) -> str:
    charset = part.get_content_charset() or "utf-8"
    try:
        "".encode(charset)
    except LookupError:
        return "utf-8"
    return charset


def _context(lines: list[str], address: str) -> str:
    """The line naming the address and those after it, up to a blank line; address removed."""
    needle = address.lower()
    for index, line in enumerate(lines):
        if needle in line.lower():
            taken = [line]
            for follow in lines[index + 1 : index + _CONTEXT_LINES]:
                if not follow.strip() and len(taken) > 1:
                    break
                if follow.strip():
                    taken.append(follow)
            text = " ".join(taken)
            return fields.one_line(re.sub(re.escape(address), " ", text, flags=re.I))
    return ""


def _preamble(lines: list[str], addresses: list[str]) -> str:
    """The report's text up to the returned copy, its addresses removed (they are no reason)."""
    taken: list[str] = []
    for line in lines[:_PREAMBLE_LINES]:
        if _COPY_STARTS.search(line):
            break
        taken.append(line)
    text = " ".join(taken)
    for address in addresses:
        text = re.sub(re.escape(address), " ", text, flags=re.I)
    return fields.one_line(text, 4000)
