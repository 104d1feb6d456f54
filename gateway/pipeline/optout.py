"""Opt-out actions shared by the web page, one-click POST and the mailto address.

Suppression takes effect at once; the consent history and the decision log follow only for
new suppressions, so a repeated request (a provider retrying, a second click) leaves no
duplicates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from gateway.pipeline.audit import Audit
from gateway.policy.facts import PURPOSES
from gateway.store import Store
from gateway.store.records import ConsentEvent, Decision, SuppressionEntry, iso_now

UNSUBSCRIBED = "unsubscribed"
ALL = "all"


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
