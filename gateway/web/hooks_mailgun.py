"""`POST /hooks/mailgun`: Mailgun's webhooks (docs/design.md §8).

Mailgun signs each request: `signature.signature` is the hex HMAC-SHA256 of
`signature.timestamp` + `signature.token` under the account's webhook signing key
(`hooks.mailgun_signing_key`). Mailgun's "Securing webhooks" asks for exactly what is done
here: the HMAC checked, the timestamp within a window (`hooks.max_age`), a token used once.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from aiohttp import web

from gateway.config_values import parse_duration
from gateway.reports import Report, classify
from gateway.reports.model import COMPLAINT, HARD, SOFT, UNSUBSCRIBE
from gateway.web.compare import same
from gateway.web.context import CONTEXT
from gateway.web.hooks_common import (
    Refused,
    address_of,
    check_age,
    forged,
    load_json,
    mapping,
    read_body,
    refusal,
    report,
    take,
    unsigned,
)

PROVIDER = "mailgun"


def verify(key: str, signature: Any, max_age: float) -> str:
    """The token (the request's id) of a request whose signature holds."""
    if not isinstance(signature, dict) or not all(
        isinstance(signature.get(k), str) for k in ("timestamp", "token", "signature")
    ):
        raise unsigned("no signature")
    timestamp, token = signature["timestamp"], signature["token"]
    expected = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    if not same(signature["signature"].lower(), expected):
        raise forged("signature does not match")
    try:
        check_age(float(timestamp), max_age)
    except ValueError as exc:
        raise forged("timestamp is not a number") from exc
    return token


def reports(event: dict[str, Any]) -> list[Report]:
    """Mailgun's `event-data`: failed (permanent or temporary), complained, unsubscribed."""
    kind = event.get("event")
    address = address_of(event.get("recipient"))
    headers = mapping(mapping(event.get("message")).get("headers"))
    message_id = str(headers.get("message-id") or "")
    if kind == "complained":
        return [report(PROVIDER, "arf", address, COMPLAINT, "complained", message_id=message_id)]
    if kind == "unsubscribed":
        return [
            report(PROVIDER, "arf", address, UNSUBSCRIBE, "unsubscribed", message_id=message_id)
        ]
    if kind != "failed":
        return []
    status = mapping(event.get("delivery-status"))
    code = str(status.get("enhanced-code") or status.get("code") or "")
    text = " ".join(str(status.get(k) or "") for k in ("message", "description"))
    if event.get("reason") == "suppress-bounce":
        outcome, why = HARD, "on Mailgun's bounce list"
    elif event.get("severity") == "temporary":
        outcome, why = SOFT, f"temporary failure {code}"
    else:
        outcome, why = classify("failed", code if "." in code else "", f"{code} {text}")
    return [
        report(
            PROVIDER,
            "bounce",
            address,
            outcome,
            why,
            status=code if "." in code else "",
            diagnostic=text,
            message_id=message_id,
            remote_mta=str(status.get("mx-host") or ""),
        )
    ]


async def hook(request: web.Request) -> web.Response:
    config = request.app[CONTEXT].config.hooks
    if not config.mailgun_signing_key:
        raise web.HTTPNotFound()
    max_age = parse_duration(config.max_age)
    body = load_json(await read_body(request))
    try:
        if not isinstance(body, dict):
            raise unsigned("no signature")
        token = verify(config.mailgun_signing_key, body.get("signature"), max_age)
        event = body.get("event-data")
        found = reports(event) if isinstance(event, dict) else []
        return await take(request, PROVIDER, token, 2 * max_age, found)
    except Refused as exc:
        return refusal(PROVIDER, exc)
