"""A person's data on request (GDPR art. 15): everything the gateway holds about one address
as one JSON document, for `gatekeeper contacts export`, the API and the dashboard.

The structure is documented in docs/data-requests.md; `VERSION` changes when it does.
Decisions are read in keyset pages of `PAGE` rows, newest first, and stop at the caller's
limit (`DECISION_LIMIT` by default): a contact with years of traffic cannot make one export
hold an unbounded number of rows in memory. The document says when it was cut short
(`decisions.complete` false) and how to ask for the rest (`gatekeeper log` / the API's
`/decisions?recipient=`, which page through all of them).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from gateway.config import Config
from gateway.store import Store
from gateway.store.records import ContactView, Decision, DecisionQuery
from gateway.timefmt import iso_now

FORMAT = "gatekeeper-data-export"
VERSION = 1
DECISION_LIMIT = 5000
"""Decisions per export, newest first (docs/data-requests.md); the API and CLI take less."""
PAGE = 500
DECISION_KEYS = (
    "id",
    "time",
    "phase",
    "action",
    "purpose",
    "topic",
    "jurisdiction",
    "basis",
    "reason",
    "rule",
    "cite",
    "sender",
    "message_id",
    "queue_id",
    "instance",
)
"""What each decision row shows: who sent what, the verdict, and the rule with its citation.
Session ids, client addresses and operator detail are the sender's data, not the person's."""


def proof_value(text: str) -> Any:
    """Evidence is stored as JSON text; shown as the object it is, or as text if it is not."""
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def controller(config: Config) -> dict[str, str | None]:
    """Who holds the data (GDPR art. 15(1), 13(1)(a)): the operator's `[identity]`."""
    identity = config.identity
    return {
        "name": identity.name,
        "registration": identity.registration,
        "postal_address": identity.postal_address,
        "jurisdiction": identity.jurisdiction,
    }


def contact_part(view: ContactView | None) -> dict[str, Any]:
    if view is None:
        return {"contact": None, "consents": [], "consent_history": [], "relationships": []}
    return {
        "contact": {
            "address": view.address,
            "as_given": view.original,
            "country": view.country,
            "source": view.source,
            "created_at": view.created_at,
            "last_engaged_at": view.last_engaged_at,
        },
        "consents": [
            {**consent, "proof": proof_value(consent.get("proof") or "")}
            for consent in view.consents
        ],
        "consent_history": [
            {
                "at": e.at,
                "event": e.kind,
                "topic": e.topic,
                "source": e.source,
                "proof": proof_value(e.proof),
            }
            for e in view.events
        ],
        "relationships": view.relationships,
    }


def decision_row(seq: int, decision: Decision) -> dict[str, Any]:
    return {"seq": seq, **{key: getattr(decision, key) for key in DECISION_KEYS}}


async def decision_rows(
    store: Store, address: str, limit: int = DECISION_LIMIT
) -> tuple[list[tuple[int, Decision]], bool]:
    """The newest `limit` decisions about the address, page by page; and whether that is all."""
    rows: list[tuple[int, Decision]] = []
    before: int | None = None
    while len(rows) < limit:
        want = min(PAGE, limit - len(rows))
        query = DecisionQuery(recipient=address, before=before, newest_first=True, limit=want)
        page = await store.decisions(query)
        rows += page
        if len(page) < want:
            return rows, True
        before = page[-1][0]
    more = await store.decisions(
        DecisionQuery(recipient=address, before=before, newest_first=True, limit=1)
    )
    return rows, not more


PDF_MISSING = "the PDF form needs ReportLab: pip install 'smtp-gatekeeper[pdf]'"


class PdfUnavailable(RuntimeError):
    """ReportLab (the optional extra `pdf`) is not installed."""


def render_pdf(document: dict[str, Any]) -> bytes:
    try:  # imported here: only the PDF form needs the optional extra
        from gateway.consent.export_pdf import render_pdf as render
    except ImportError as exc:
        raise PdfUnavailable(PDF_MISSING) from exc
    return render(document)


async def chain_proof(store: Store, rows: list[tuple[int, Decision]]) -> dict[str, Any]:
    """The decision hash chain (gateway/store/chain.py, docs/accountability.md) for these rows:
    each row's place, previous hash and own hash, and per instance the chain head and its
    latest anchor (a purge's or a recorded checkpoint), so a reader holding a signed
    checkpoint can check these rows are the ones the log holds (`gatekeeper log verify`)."""
    linked = [(seq, d) for seq, d in rows if d.chain_hash]
    instances: dict[str, Any] = {}
    for instance in sorted({d.instance for _, d in linked}):
        n, head = await store.chain_head(instance)
        anchors = await store.chain_anchors(instance)
        latest = anchors[-1] if anchors else None
        instances[instance] = {
            "rows": n,
            "head": head,
            "latest_anchor": None
            if latest is None
            else {"n": latest.n, "head": latest.head, "at": latest.at, "kind": latest.kind},
        }
    return {
        "available": True,
        "rows": [
            {"seq": seq, "instance": d.instance, "n": d.chain_n}
            | {"prev": d.chain_prev, "hash": d.chain_hash}
            for seq, d in linked
        ],
        "unchained_rows": len(rows) - len(linked),
        "instances": instances,
    }


async def export_document(
    store: Store, config: Config, address: str, limit: int = DECISION_LIMIT
) -> dict[str, Any] | None:
    """Everything held about a canonical address; None when nothing at all is held."""
    view = await store.contact(address)
    rows, complete = await decision_rows(store, address, limit)
    if view is None and not rows:
        return None
    return {
        "format": FORMAT,
        "version": VERSION,
        "generated_at": iso_now(),
        "controller": controller(config),
        "subject": address,
        **contact_part(view),
        "suppressions": [asdict(s) for s in view.suppressions] if view else [],
        "decisions": {
            "limit": limit,
            "shown": len(rows),
            "complete": complete,
            "order": "newest first",
            "rows": [decision_row(seq, d) for seq, d in rows],
        },
        "chain": await chain_proof(store, rows),
    }
