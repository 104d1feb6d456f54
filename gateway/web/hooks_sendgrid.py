"""`POST /hooks/sendgrid`: SendGrid's Event Webhook (docs/design.md §8).

With "Signed Event Webhook" on, SendGrid signs the timestamp followed by the raw body with
ECDSA (P-256, SHA-256) and sends the base64 DER signature in
`X-Twilio-Email-Event-Webhook-Signature`, the timestamp in
`X-Twilio-Email-Event-Webhook-Timestamp`; the verification key it shows goes in
`hooks.sendgrid_public_key`. The body is verified byte for byte before it is parsed, the
timestamp must be within `hooks.max_age`, and a signature is taken once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from functools import lru_cache
from typing import Any

from aiohttp import web
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.config_values import parse_duration
from gateway.reports import Report, classify
from gateway.reports.model import COMPLAINT, HARD, SENDER, SOFT, UNSUBSCRIBE
from gateway.web.context import CONTEXT
from gateway.web.hooks_common import (
    Refused,
    address_of,
    check_age,
    forged,
    load_json,
    read_body,
    refusal,
    report,
    take,
    unsigned,
)

PROVIDER = "sendgrid"
SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
DROPPED = {
    "Bounced Address": HARD,
    "Invalid": HARD,
    "Spam Reporting Address": COMPLAINT,
    "Unsubscribed Address": UNSUBSCRIBE,
}
"""A `dropped` event's reason when SendGrid's own suppression lists dropped the message."""


@lru_cache(maxsize=4)
def public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The key as SendGrid shows it (base64 of the DER SubjectPublicKeyInfo) or as PEM."""
    if "BEGIN PUBLIC KEY" in text:
        key = serialization.load_pem_public_key(text.encode())
    else:
        key = serialization.load_der_public_key(base64.b64decode("".join(text.split())))
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("hooks.sendgrid_public_key is not an ECDSA key")
    return key


def verify(
    key_text: str, signature: str | None, timestamp: str | None, body: bytes, max_age: float
) -> None:
    if not signature or not timestamp:
        raise unsigned("no signature")
    try:
        public_key(key_text).verify(
            base64.b64decode(signature), timestamp.encode() + body, ec.ECDSA(hashes.SHA256())
        )
        check_age(float(timestamp), max_age)
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise forged("signature does not match") from exc


def outcome_of(event: dict[str, Any]) -> tuple[str, str] | None:
    """(outcome, why) of one SendGrid event; None for those that say nothing of consent or
    deliverability (processed, delivered, open, click, ...)."""
    kind = event.get("event")
    reason = str(event.get("reason") or "")
    if kind == "spamreport":
        return COMPLAINT, "spam report"
    if kind in ("unsubscribe", "group_unsubscribe"):
        return UNSUBSCRIBE, str(kind)
    if kind == "deferred":
        return SOFT, "deferred"
    if kind == "dropped":
        dropped = DROPPED.get(reason)
        return (dropped, f"dropped: {reason}") if dropped else None
    if kind != "bounce":
        return None
    if event.get("type") == "blocked":  # SendGrid's word for a refusal of the sender or IP
        return SENDER, f"blocked: {reason}"
    status = str(event.get("status") or "")
    return classify("failed", status, reason)


def reports(events: Any) -> list[Report]:
    found = []
    for event in events if isinstance(events, list) else []:
        if not isinstance(event, dict):
            continue
        decided = outcome_of(event)
        if decided is None:
            continue
        outcome, why = decided
        found.append(
            report(
                PROVIDER,
                "arf" if outcome in (COMPLAINT, UNSUBSCRIBE) else "bounce",
                address_of(event.get("email")),
                outcome,
                why,
                status=str(event.get("status") or ""),
                diagnostic=str(event.get("reason") or event.get("response") or ""),
                message_id=str(event.get("smtp-id") or ""),
            )
        )
    return found


async def hook(request: web.Request) -> web.Response:
    config = request.app[CONTEXT].config.hooks
    if not config.sendgrid_public_key:
        raise web.HTTPNotFound()
    max_age = parse_duration(config.max_age)
    body = await read_body(request)
    try:
        timestamp = request.headers.get(TIMESTAMP)
        verify(config.sendgrid_public_key, request.headers.get(SIGNATURE), timestamp, body, max_age)
        # the signed bytes name the request: an ECDSA signature has more than one valid form
        key = hashlib.sha256(f"{timestamp}.".encode() + body).hexdigest()
        return await take(request, PROVIDER, key, 2 * max_age, reports(load_json(body)))
    except Refused as exc:
        return refusal(PROVIDER, exc)
