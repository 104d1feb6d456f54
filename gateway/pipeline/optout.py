"""Opt-out actions shared by the web page, one-click POST and the mailto address.

Suppression takes effect at once; the consent history and the decision log follow only for
new suppressions, so a repeated request (a provider retrying, a second click) leaves no
duplicates. Getting mail again is a double opt-in: a link can be forwarded, so a request is
only recorded, and the consent follows the click on a link mailed to the address itself.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Iterable, Sequence
from email.message import EmailMessage
from email.policy import SMTP

from gateway.pipeline.audit import Audit
from gateway.policy.facts import PURPOSES
from gateway.store import Store
from gateway.store.records import (
    ConsentEvent,
    Decision,
    SpoolMessage,
    SpoolRecipient,
    SuppressionEntry,
    iso_now,
    new_id,
)
from gateway.timefmt import mail_date

UNSUBSCRIBED = "unsubscribed"
ALL = "all"
REQUEST = "resubscribe-request"
"""A consent event that changes no state: who asked to get mail again, and how."""


async def leave(
    store: Store,
    audit: Audit,
    address: str,
    scopes: Iterable[str],
    source: str,
    evidence: str,
) -> list[str]:
    """Suppress the scopes; returns those that were not suppressed already. The
    suppressions and their consent events are one transaction: a crash keeps both or neither."""
    now = iso_now()
    scopes = list(dict.fromkeys(scopes))
    added = await store.opt_out(
        [SuppressionEntry(address, scope, UNSUBSCRIBED, source, now) for scope in scopes],
        [ConsentEvent(address, scope, "unsubscribe", now, source, evidence) for scope in scopes],
    )
    new = [entry.scope for entry in added]
    if new:
        audit.record([unsubscribe_decision(address, scope, now, source) for scope in new])
    return new


async def resubscribe(
    store: Store, address: str, scopes: Sequence[str], source: str, evidence: str
) -> list[str]:
    """Lift the person's own unsubscribes, never a bounce, complaint, objection or erasure;
    returns the scopes lifted."""
    current = await store.suppressions(address)
    lifted = []
    for scope in scopes:
        reasons = {s.reason for s in current if s.scope == scope}
        if reasons == {UNSUBSCRIBED}:
            await store.unsuppress(address, scope, UNSUBSCRIBED)
            lifted.append(scope)
    if lifted:
        now = iso_now()
        await store.record_consent(
            [ConsentEvent(address, s, "resubscribe", now, source, evidence) for s in lifted]
        )
    return lifted


async def request_resubscribe(
    store: Store, address: str, scopes: Sequence[str], source: str, evidence: str
) -> None:
    """The request as it came (a forwarded link may be anyone's): recorded, nothing lifted."""
    now = iso_now()
    await store.record_consent(
        [ConsentEvent(address, s, REQUEST, now, source, evidence) for s in scopes]
    )


async def confirm_resubscribe(
    store: Store, address: str, scopes: Sequence[str], source: str, evidence: str
) -> list[str]:
    """The address's own confirmation: the person's unsubscribes lifted, and the consent
    recorded as given and confirmed (double opt-in), with the click's proof."""
    lifted = await resubscribe(store, address, scopes, source, evidence)
    if lifted:
        now = iso_now()
        await store.record_consent(
            [ConsentEvent(address, s, "confirm", now, source, evidence) for s in lifted]
        )
    return lifted


def confirmation_message(
    address: str, sender: tuple[str, str], subject: str, text: str, hostname: str
) -> SpoolMessage:
    """The confirmation mail as a spool entry due at once, from the null sender so it never
    bounces back (RFC 5321 §4.5.5), marked Auto-Submitted (RFC 3834): the gateway wrote it."""
    mail = EmailMessage(policy=SMTP)
    mail["From"] = email.utils.formataddr(sender)
    mail["To"] = address
    mail["Subject"] = subject
    mail["Date"] = mail_date()
    mail["Message-ID"] = message_id = email.utils.make_msgid(domain=hostname)
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(text)
    now = time.time()
    return SpoolMessage(
        id=new_id(),
        received_at=now,
        sender="",
        data=mail.as_bytes(),
        recipients=[SpoolRecipient(address, next_attempt=now)],
        message_id=message_id.strip("<>"),
        purpose="confirmation",
    )


def unsubscribe_decision(address: str, scope: str, now: str, source: str) -> Decision:
    names_purpose = scope == ALL or scope in PURPOSES
    return Decision(
        time=now,
        phase="unsubscribe",
        action="deny",
        recipient=address,
        reason=UNSUBSCRIBED,
        purpose=scope if names_purpose else "",
        topic="" if names_purpose else scope,
        detail=source,
    )
