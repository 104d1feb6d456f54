"""Events to the application (docs/design.md §9): a refused recipient reaches the app's
webhook signed as Standard Webhooks says, verified here with the specification's reference
library; an endpoint that is down gets the event once it is back."""

from __future__ import annotations

import asyncio
import base64
import json
import smtplib
from typing import Any

import pytest
from standardwebhooks import Webhook

from gateway.config_hooks import EventsConfig, WebhookEndpoint
from gateway.pipeline.events import EventSource, event_type
from gateway.store.records import Decision, SuppressionEntry, iso_now
from tests.support.messages import MARKETING, send
from tests.support.receiver import Receiver
from tests.support.servers import Upstream, free_port
from tests.support.waiting import wait_until

SECRET = "whsec_" + base64.b64encode(b"application-shared-secret-32byte").decode()
STRANGER = "stranger@example.org"


def events_config(url: str, *kinds: str) -> dict[str, Any]:
    return {
        "webhooks": [{"url": url, "secret": SECRET, "events": list(kinds or ["refused"])}],
        "retry_initial": 0.2,
        "retry_max": 0.5,
    }


def row(phase: str, action: str, reason: str = "") -> Decision:
    return Decision(
        time=iso_now(), phase=phase, action=action, recipient="a@b.example", reason=reason
    )


def test_which_rows_are_which_events() -> None:
    assert event_type(row("rcpt", "deny", "no-consent")) == "refused"
    assert event_type(row("data", "deny", "no-consent")) == "refused"
    assert event_type(row("rcpt", "allow")) is None
    assert event_type(row("delivery", "allow", "delivered")) == "delivered"
    assert event_type(row("delivery", "deny", "bounced")) == "bounced"
    assert event_type(row("delivery", "defer", "deferred")) is None
    assert event_type(row("unsubscribe", "deny", "unsubscribed")) == "unsubscribed"
    assert event_type(row("report", "deny", "hard-bounce")) == "bounced"
    assert event_type(row("report", "deny", "complaint")) == "complained"
    assert event_type(row("report", "note", "auto-reply")) is None


def test_only_endpoints_that_asked_get_an_event() -> None:
    config = EventsConfig(
        webhooks=[
            WebhookEndpoint("http://127.0.0.1:1/a", SECRET, ["suppressed"]),
            WebhookEndpoint("http://127.0.0.1:1/b", SECRET, ["refused"]),
        ]
    )
    source = EventSource(config)
    entry = SuppressionEntry("a@b.example", "all", "hard-bounce", "delivery", iso_now())
    (event,) = source.for_suppressions([entry])
    assert event.endpoint.endswith("/a") and event.type == "suppressed"
    assert json.loads(event.payload)["data"]["reason"] == "hard-bounce"
    (refused,) = source.for_decisions([row("rcpt", "deny", "no-consent")])
    assert refused.endpoint.endswith("/b") and refused.id != event.id


async def refuse_one(gw: Any) -> None:
    """A newsletter to an address with no consent: refused (the event says why)."""
    with pytest.raises((smtplib.SMTPDataError, smtplib.SMTPRecipientsRefused)):
        await asyncio.to_thread(send, gw.smtp_port, [STRANGER], MARKETING, "news@shop.example")


async def test_refused_event_is_signed_as_standard_webhooks_says(
    gateway_factory: Any, upstream: Upstream
) -> None:
    receiver = await Receiver().start()
    try:
        gw = await gateway_factory(upstream.url, events=events_config(receiver.url))
        await refuse_one(gw)
        await wait_until(lambda: receiver.requests, timeout=20)
        request = receiver.requests[0]
        payload = Webhook(SECRET).verify(request.body, request.headers)
        assert payload["type"] == "refused"
        data = payload["data"]
        assert data["recipient"] == STRANGER
        assert data["action"] == "deny" and data["reason"] and data["rule"] and data["cite"]
        await wait_until(lambda: _delivered(gw), timeout=10)
    finally:
        await receiver.stop()


async def _delivered(gw: Any) -> bool:
    return bool(await gw.store.events_list("delivered"))


async def test_an_endpoint_that_was_down_gets_the_event_when_back(
    gateway_factory: Any, upstream: Upstream
) -> None:
    port = free_port()
    receiver = Receiver(port=port)
    gw = await gateway_factory(upstream.url, events=events_config(receiver.url))
    await refuse_one(gw)

    async def tried() -> bool:
        return any(e.attempts >= 1 for e in await gw.store.events_list("pending"))

    await wait_until(tried, timeout=20)
    (pending,) = await gw.store.events_list("pending")
    assert "Connect" in pending.last_error or "refused" in pending.last_error.lower()
    await receiver.start()
    try:
        await wait_until(lambda: receiver.requests, timeout=20)
        Webhook(SECRET).verify(receiver.requests[0].body, receiver.requests[0].headers)
        assert receiver.requests[0].headers["webhook-id"] == pending.id
    finally:
        await receiver.stop()
