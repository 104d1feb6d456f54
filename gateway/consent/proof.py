"""Consent proof export: what is known about an address and on what evidence (GDPR art. 7(1),
15): the same document for `gatekeeper contacts proof` and the API; and proof at a moment,
what was true for a recipient when one decision was taken, signed (docs/data-requests.md)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from gateway.config import Config
from gateway.consent.export import chain_proof, controller, decision_row, proof_value
from gateway.consent.history import consents_as_of
from gateway.consent.signing import sign, signing_key
from gateway.store import Store
from gateway.store.records import ContactView, Decision, DecisionQuery
from gateway.timefmt import iso_now

MOMENT_FORMAT = "gatekeeper-decision-proof"
MOMENT_VERSION = 1
OUTCOME_PHASES = ("delivery", "report", "unsubscribe")
"""Rows that record what happened after a message was decided, not the decision itself."""
MESSAGE_ROWS = 100
"""Rows of one message for one recipient read to find its decision: a handful in practice."""


def proof_document(view: ContactView) -> dict[str, Any]:
    return {
        "address": view.address,
        "original": view.original,
        "country": view.country,
        "source": view.source,
        "created_at": view.created_at,
        "last_engaged_at": view.last_engaged_at,
        "consents": view.consents,
        "history": [asdict(e) for e in view.events],
        "relationships": view.relationships,
        "suppressions": [asdict(s) for s in view.suppressions],
    }


async def decision_by_seq(store: Store, seq: int) -> Decision | None:
    rows = await store.decisions(DecisionQuery(after=seq - 1, limit=1))
    return rows[0][1] if rows and rows[0][0] == seq else None


async def decision_of_message(store: Store, address: str, message_id: str) -> int | None:
    """The sequence number of the policy decision on message M for this recipient (Message-ID
    or queue id): the last row that is not an outcome (delivery, report, unsubscribe)."""
    bare = message_id.strip().removeprefix("<").removesuffix(">")  # rows keep it bare
    rows = await store.decisions(
        DecisionQuery(recipient=address, message_id=bare, limit=MESSAGE_ROWS)
    )
    policy = [seq for seq, d in rows if d.phase not in OUTCOME_PHASES]
    chosen = policy or [seq for seq, _ in rows]
    return chosen[-1] if chosen else None


def state_at(view: ContactView | None, moment: str) -> dict[str, Any]:
    """The consent record replayed from the append-only history up to `moment`: the state
    the policy saw, not today's."""
    if view is None:
        return {
            "held_now": False,
            "consents": [],
            "consent_history": [],
            "suppressions": [],
            "relationships_now": [],
        }
    events = [e for e in view.events if e.at <= moment]
    return {
        "held_now": True,
        "consents": [
            {**c, "proof": proof_value(c.get("proof") or "")} for c in consents_as_of(events)
        ],
        "consent_history": [
            {"at": e.at, "event": e.kind, "topic": e.topic, "source": e.source}
            | {"proof": proof_value(e.proof)}
            for e in events
        ],
        "suppressions": [asdict(s) for s in view.suppressions if s.created_at <= moment],
        "relationships_now": view.relationships,
    }


async def moment_document(store: Store, config: Config, seq: int) -> dict[str, Any] | None:
    """What was true for the recipient of decision `seq` when it was taken; None if no such
    decision. Relationships have no history: they are given as held now, and named so."""
    decision = await decision_by_seq(store, seq)
    if decision is None:
        return None
    view = await store.contact(decision.recipient)
    return {
        "format": MOMENT_FORMAT,
        "version": MOMENT_VERSION,
        "generated_at": iso_now(),
        "controller": controller(config),
        "recipient": decision.recipient,
        "decision": decision_row(seq, decision) | {"detail": decision.detail},
        "as_of": decision.time,
        **state_at(view, decision.time),
        "chain": await chain_proof(store, [(seq, decision)]),
    }


def signed(document: dict[str, Any], config: Config) -> dict[str, Any]:
    """With its `signature` member by `log.signing_key_file` (consent/signing.py); without
    the key, unsigned: nothing then proves it was not edited, and the callers say so."""
    return sign(document, signing_key(config))
