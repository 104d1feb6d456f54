"""Every SMTP reply the gateway composes, in one place, with the RFCs that shape it.

A refusal teaches: it names the reason, the purpose and where that purpose came from, the
rule and what to do, and ends with `(ref ID)`, the decision row's id, so one line of a
client's log leads to the row (`gatekeeper log`). Codes are RFC 5321 §4.2 replies with an
RFC 3463 enhanced status code after them (RFC 2034).
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_LINE = 510
"""RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets, its CRLF included."""

NULL_SENDER = "<>"
"""RFC 5321 §4.5.5: the reverse-path of bounces and reports. Kept as the envelope's
`mail_from` so aiosmtpd sees a MAIL given; the message itself carries an empty sender."""

# -- MAIL / RCPT -----------------------------------------------------------------------------
SENDER_OK = "250 2.1.0 Sender OK"
RECIPIENT_OK = "250 2.1.5 Recipient OK"
RECIPIENT_DUPLICATE = "250 2.1.5 Recipient OK (duplicate)"
UNSUBSCRIBE_ADDRESS_OK = "250 2.1.5 Unsubscribe address OK"
REPORT_ADDRESS_OK = "250 2.1.5 Report address OK"
AUTH_REQUIRED = "530 5.7.0 Authentication required"  # RFC 4954 §6
AUTH_IN_TRANSACTION = "503 5.5.1 AUTH not permitted during a mail transaction"  # RFC 4954 §4
AUTH_BUSY = "454 4.7.0 Temporary authentication failure"  # RFC 4954 §6: checks saturated
AUTH_TOO_MANY_FAILURES = "421 4.7.0 Too many failed authentication attempts, try again later"
"""RFC 5321 §3.8: 421 closes the connection; 4.7.0 (RFC 3463) a security-related refusal."""
# RFC 3463 X.1.7 "bad sender's mailbox address syntax", X.1.3 "bad destination mailbox
# address syntax"; 553 is RFC 5321's "mailbox name not allowed".
_BAD_ADDRESS = {"sender": "553 5.1.7", "recipient": "553 5.1.3"}
INVALID_ADDRESS = "invalid-address"
ADDRESS_RULE = "smtp.address.syntax"
ADDRESS_CITE = "RFC 5321 §4.1.2; RFC 5322 §3.4.1"

# -- DATA ------------------------------------------------------------------------------------
NEED_RCPT = "503 5.5.1 Error: need RCPT command"
DATA_SYNTAX = "501 5.5.4 Syntax: DATA"
START_DATA = "354 End data with <CR><LF>.<CR><LF>"
DATA_OK = "250 2.0.0 OK"
UNSUBSCRIBE_RECEIVED = "250 2.0.0 Unsubscribe request received"
REPORT_RECEIVED = "250 2.0.0 Report received"
FAULT = "451 4.3.0 Temporary gateway fault, please try again later"
"""The gateway's own faults are 4xx: the client keeps the message and tries again."""
# Like Postfix's smtpd_forbid_bare_newline: bare CR or LF is how SMTP smuggling
# (CVE-2023-51764/-51765/-51766) hides a second message inside the first.
NUL_IN_MESSAGE = (
    "550 5.6.0 Message contains NUL characters, which RFC 5322 §2.2 and §3.5 forbid; not relayed"
)
"""A NUL-dropping hop downstream would read `CRLF NUL . CRLF` as an end of data (smuggling)."""
BARE_LINE_END = "550 5.5.2 Message contains bare CR or LF; use CRLF line endings (RFC 5321 §2.3.8)"

# Where the purpose came from (gateway.pipeline.classify's origins), as a refusal names it.
UNDECLARED = "undeclared: set X-Gatekeeper-Purpose or a [[streams]] entry"
_HEURISTIC = {
    "promotional content": "hint: promotional words",
    "transactional subject": "hint: subject",
}

# What to do about a refusal, by reason (gateway.policy.facts.DENY_REASONS).
_SUPPRESSED = "suppressed; see: gatekeeper contacts show {address}"
HINTS = {
    "erased": "the person's data was erased",
    "hard-bounce": _SUPPRESSED,
    "complaint": _SUPPRESSED,
    "unsubscribed": _SUPPRESSED,
    "objected": _SUPPRESSED,
    "purchased-list": "consent from a bought list does not count",
    "no-consent": "record consent: gatekeeper contacts import",
    "consent-withdrawn": "the person withdrew consent",
    "consent-expired": "consent must be renewed",
    "consent-unproven": "record proof of consent (double opt-in)",
    "double-opt-in-required": "record a confirmed (double) opt-in",
    "soft-opt-in-expired": "the last purchase is too long ago",
    "soft-opt-in-dissimilar": "soft opt-in covers similar products only",
    "not-a-customer": "soft opt-in needs a purchase on record",
    "partner-not-consented": "needs consent to this partner",
    "missing-unsubscribe-link": "add %unsubscribe_url% or set unsubscribe.footer",
    "missing-sender-identification": "set identity.name",
    "missing-postal-address": "set identity.postal_address",
    "missing-subject-label": "label the subject as an advertisement",
}
_HINT_DEFAULT = "see: gatekeeper log"


def fit(text: str, tail: str = "") -> str:
    """`text` shortened so that `text + tail` is one reply line (RFC 5321 §4.5.3.1.5)."""
    room = MAX_LINE - len(tail.encode())
    encoded = text.encode()
    if len(encoded) > room:
        text = encoded[: room - 3].decode(errors="ignore") + "..."
    return text + tail


def printable(text: str) -> str:
    """Client text echoed in a reply, without control characters (no reply injection)."""
    return "".join(c if c.isprintable() else "?" for c in text)


def bad_address(field: str, typed: str, problem: str, ref: str | None = None) -> str:
    """553 for an address that is not one; `field` is `sender` or `recipient`."""
    head = f"{_BAD_ADDRESS[field]} {INVALID_ADDRESS}: {field} <{printable(typed)}>: {problem}"
    return fit(head, f" (ref {ref})" if ref else "")


def sender_not_allowed(address: str, login: str) -> str:
    return fit(f"550 5.7.1 Sender <{address}> is not allowed for login {login}")


def too_many_recipients(limit: int) -> str:
    # RFC 5321 §4.5.3.1.8 asks servers to take at least 100 recipients; past our limit the
    # client is told to send the rest in another transaction (RFC 3463 4.5.3).
    return f"452 4.5.3 Too many recipients (at most {limit})"


def purpose_source(origin: str, notes: Sequence[str], login: str | None) -> str:
    """Where the purpose came from, in the words of the README's classification section."""
    if any(n.startswith("promotional content:") for n in notes):
        return "reclassified: promotional words in declared mail"
    if origin == "stream":
        return f"login {login}" if login else "[[streams]] entry"
    if origin == "header":
        return "X-Gatekeeper-Purpose"
    if origin == "hint":
        return f"hint: {notes[0]}" if notes else "hint"
    if origin == "heuristic":
        return next((_HEURISTIC[n] for n in notes if n in _HEURISTIC), "hint")
    return UNDECLARED


def refused(
    summary: str,
    reason: str,
    purpose: str,
    source: str,
    rule: str,
    ref: str,
    address: str = "ADDRESS",
) -> str:
    """`550 5.7.1 <summary>: <purpose> (<source>); rule <id>; <hint> (ref <id>)`.

    `summary` starts with the reason (or `N of M recipients refused: reason`); `address`
    is the refused recipient where there is one."""
    hint = HINTS.get(reason, _HINT_DEFAULT).format(address=address)
    rule_part = f"; rule {rule}" if rule else ""
    return fit(f"550 5.7.1 {summary}: {purpose} ({source}){rule_part}; {hint}", f" (ref {ref})")


def queued(queue_id: str) -> str:
    return f"250 2.0.0 Ok: queued as {queue_id}"


def queued_partly(queue_id: str, accepted: int, total: int, ref: str) -> str:
    """250 for a message some recipients of which were refused: how to see who and why."""
    return fit(
        f"250 2.0.0 Ok: queued as {queue_id}; {accepted} of {total} recipients accepted, "
        f"{total - accepted} refused (ref {ref}); see: gatekeeper log --message-id {queue_id}"
    )


def too_big(limit: int | None) -> str:
    return f"552 5.3.4 Message size exceeds fixed maximum message size ({limit} octets)"


def line_too_long(limit: int) -> str:
    return f"552 5.3.4 Line longer than {limit} characters (RFC 5322 §2.1.1)"


def sender_paused(domain: str, rate: float, threshold: float) -> str:
    """The complaint-rate brake (docs/design.md §8): a 4xx, so the application keeps the mail
    (RFC 5321 §4.2.5); RFC 3463 X.7.1 "delivery not authorized", the policy being ours."""
    return fit(
        f"451 4.7.1 Sender domain {domain} paused: complaint rate {rate:.2%} over 24 h is above "
        f"{threshold:.2%} (complaints.pause_rate); non-transactional mail waits until "
        f"gatekeeper senders resume {domain}"
    )


# -- session limits (issue 11: hostile networks) ---------------------------------------------
# RFC 5321 §3.8 and §4.2.4: a server that must close answers 421 ("closing transmission
# channel") first, in the greeting or to any command. RFC 3463: X.7.0 "other security
# status" for a policy limit, X.4.2 "bad connection" for a timeout.
TOO_MANY_SESSIONS = "421 4.7.0 Too many connections, try again later"
TOO_MANY_SESSIONS_FROM_CLIENT = "421 4.7.0 Too many connections from your address"
GREETING_TIMEOUT = "421 4.4.2 No command received in time, closing connection"
IDLE_TIMEOUT = "421 4.4.2 Idle timeout, closing connection"
SESSION_TOO_LONG = "421 4.4.2 Session time limit reached, closing connection"
TOO_MANY_COMMANDS = "421 4.7.0 Too many commands in one session, closing connection"
TOO_MANY_NOOPS = "421 4.7.0 Too many NOOP/RSET/VRFY/HELP commands, closing connection"
# RFC 5321 §2.3.8: CR and LF occur in a command line only together, as its end.
BARE_CR_IN_COMMAND = "501 5.5.2 Syntax error: bare CR in the command line (RFC 5321 §2.3.8)"
# RFC 3463 X.3.1 "mail system full": every session's DATA together is over the gateway's
# budget; the client keeps the message and tries again (RFC 5321 §4.2.5: after the data).
INFLIGHT_FULL = "452 4.3.1 Insufficient system storage, try again later"
# RFC 3463 X.3.1 "mail system full" (RFC 5321 §4.2.2's 452 "insufficient system storage"):
# the store's disk is below `store.min_free_bytes`; refused while a commit can still
# succeed, so the disk never fills up under the store.
DISK_LOW = "452 4.3.1 Insufficient system storage (disk nearly full), try again later"


def mailbox_too_big(limit: int) -> str:
    """RFC 3463 X.3.4: the gateway's own mailboxes take small messages only."""
    return f"552 5.3.4 Message too big for this mailbox (at most {limit} octets)"


def rate_limited(login: str, per_minute: int) -> str:
    """RFC 3463 X.7.1 "delivery not authorized": a login's per-minute allowance is used."""
    return fit(f"451 4.7.1 Login {login} is over {per_minute} messages per minute, try later")
