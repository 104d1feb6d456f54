"""Events to the application (docs/design.md §9): which decision rows and suppressions become
which events, the outbox rows they are written as, and their Standard Webhooks signature.

The writer asks `EventSource` for the events of every decision row and suppression it is
handed and puts them in the same batch, so an event is durable exactly when the row that
caused it is (a crash loses neither, and never keeps one without the other). The dispatcher
(events_dispatch.py) sends them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterable
from typing import Any

from gateway.config_hooks import EventsConfig, WebhookEndpoint
from gateway.store.records import Decision, OutboundEvent, SuppressionEntry, iso_now

REFUSED_PHASES = ("rcpt", "data")
"""A recipient refused before the message was queued: what the app's 250 does not show."""
REPORT_EVENTS = {
    "hard-bounce": "bounced",
    "soft-bounce": "bounced",
    "sender-side": "bounced",
    "complaint": "complained",
}
"""Report rows (phase `report`, pipeline/report_outcomes.py) by reason. An unsubscribe by
report is told by its own `unsubscribe` row; auto-replies, success reports and unmatched
lines are no event."""


def event_type(decision: Decision) -> str | None:
    """The event a decision row is, if any."""
    phase, reason = decision.phase, decision.reason
    if phase in REFUSED_PHASES:
        return "refused" if decision.action == "deny" else None
    if phase == "delivery":
        return reason if reason in ("delivered", "bounced") else None
    if phase == "unsubscribe":
        return "unsubscribed"
    if phase == "report":
        return REPORT_EVENTS.get(reason)
    return None


def decision_data(decision: Decision) -> dict[str, str]:
    """What the application reads: the public fields (id names the decision row), where the
    message is queued, and the operator's detail (upstream reply, report evidence)."""
    return {**decision.public(), "queue_id": decision.queue_id, "detail": decision.detail}


def suppression_data(entry: SuppressionEntry) -> dict[str, str]:
    return {
        "recipient": entry.address,
        "scope": entry.scope,
        "reason": entry.reason,
        "source": entry.source,
        "time": entry.created_at,
    }


class EventSource:
    """Outbox rows for the endpoints that asked for each event."""

    def __init__(self, config: EventsConfig) -> None:
        self._endpoints = list(config.webhooks)
        self._wanted = {kind for endpoint in self._endpoints for kind in endpoint.events}

    def __bool__(self) -> bool:
        return bool(self._endpoints)

    def for_decisions(self, decisions: Iterable[Decision]) -> list[OutboundEvent]:
        events = []
        for decision in decisions:
            kind = event_type(decision)
            if kind in self._wanted:  # no payload built for what no endpoint asked for
                events += self._rows(kind, decision_data(decision))
        return events

    def for_suppressions(self, entries: Iterable[SuppressionEntry]) -> list[OutboundEvent]:
        return [e for s in entries for e in self._rows("suppressed", suppression_data(s))]

    def _rows(self, kind: str, data: dict[str, str]) -> list[OutboundEvent]:
        now = iso_now()
        return [
            new_event(endpoint, kind, now, data)
            for endpoint in self._endpoints
            if kind in endpoint.events
        ]


def new_event(
    endpoint: WebhookEndpoint, kind: str, now: str, data: dict[str, Any]
) -> OutboundEvent:
    # A random id: a clash would fail the whole batch, decision rows included, on every try.
    event_id = f"msg_{uuid.uuid4().hex}"
    body = {"type": kind, "timestamp": now, "data": data}
    return OutboundEvent(
        id=event_id,
        created_at=now,
        endpoint=endpoint.url,
        type=kind,
        payload=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
    )


def signature(key: bytes, event_id: str, timestamp: int, body: str) -> str:
    """Standard Webhooks: `v1,` + base64 of HMAC-SHA256 over `id.timestamp.body`."""
    signed = f"{event_id}.{timestamp}.{body}".encode()
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(endpoint: WebhookEndpoint, event: OutboundEvent, timestamp: int) -> dict[str, str]:
    """The request headers of one attempt: a fresh timestamp (receivers refuse old ones), the
    same id on every attempt (receivers drop what they already took)."""
    return {
        "content-type": "application/json",
        "webhook-id": event.id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(endpoint.key, event.id, timestamp, event.payload),
    }


def endpoints_by_url(config: EventsConfig) -> dict[str, WebhookEndpoint]:
    return {endpoint.url: endpoint for endpoint in config.webhooks}
