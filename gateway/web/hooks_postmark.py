"""`POST /hooks/postmark`: Postmark's bounce and spam-complaint webhooks (docs/design.md §8).

Postmark signs nothing; its webhook settings take a URL with HTTP basic auth, which is
checked against `hooks.postmark_username` / `hooks.postmark_password` in constant time (so
set them, and serve the HTTP listener behind TLS). A record already taken (its RecordType
and ID) is a replay.
"""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from gateway.reports import Report
from gateway.reports.model import AUTO_REPLIED, COMPLAINT, HARD, SENDER, SOFT, UNSUBSCRIBE
from gateway.web.compare import same
from gateway.web.context import CONTEXT
from gateway.web.hooks_common import (
    Refused,
    address_of,
    load_json,
    read_body,
    refusal,
    report,
    take,
    unsigned,
)

PROVIDER = "postmark"
KEEP = 7 * 86400.0
"""Seconds a record's ID is remembered: Postmark gives no timestamp to bound a replay by."""

BOUNCE_TYPES = {
    "HardBounce": HARD,
    "BadEmailAddress": HARD,
    "SoftBounce": SOFT,
    "Transient": SOFT,
    "DnsError": SOFT,
    "Unknown": SOFT,
    "Blocked": SENDER,
    "SpamNotification": SENDER,
    "VirusNotification": SENDER,
    "DMARCPolicy": SENDER,
    "AutoResponder": AUTO_REPLIED,
    "Unsubscribe": UNSUBSCRIBE,
    "SpamComplaint": COMPLAINT,
}
"""Postmark's bounce `Type`s (its Bounce API documents them) by outcome; others are
recorded nowhere (Subscribe, AddressChange, ManuallyDeactivated, ...)."""


def check_auth(header: str | None, username: str, password: str) -> None:
    if not header or not header.startswith("Basic "):
        raise unsigned("basic auth required")
    try:
        given_user, _, given_password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError as exc:
        # binascii.Error and UnicodeDecodeError are ValueErrors, and so is what b64decode
        # raises for text that is not ASCII (a header's non-UTF-8 bytes arrive as surrogates)
        raise unsigned("malformed basic auth") from exc
    # both compared whatever the first gives: the time says nothing about which was wrong
    user_ok = same(given_user, username)
    if not (same(given_password, password) and user_ok):
        raise unsigned("wrong credentials")


def reports(record: dict[str, Any]) -> list[Report]:
    record_type = record.get("RecordType")
    bounce_type = "SpamComplaint" if record_type == "SpamComplaint" else record.get("Type")
    outcome = BOUNCE_TYPES.get(str(bounce_type))
    if record_type not in ("Bounce", "SpamComplaint") or outcome is None:
        return []
    details = " ".join(str(record.get(k) or "") for k in ("Description", "Details"))
    return [
        report(
            PROVIDER,
            "arf" if outcome == COMPLAINT else "bounce",
            address_of(record.get("Email")),
            outcome,
            str(bounce_type),
            diagnostic=details,
            message_id=str(record.get("MessageID") or ""),
        )
    ]


async def hook(request: web.Request) -> web.Response:
    config = request.app[CONTEXT].config.hooks
    if not config.postmark_username or not config.postmark_password:
        raise web.HTTPNotFound()
    try:
        check_auth(
            request.headers.get("Authorization"),
            config.postmark_username,
            config.postmark_password,
        )
        record = load_json(await read_body(request))
        if not isinstance(record, dict):
            raise web.HTTPBadRequest(text="expected one JSON record")
        key = f"{record.get('RecordType')}:{record.get('ID')}"
        return await take(request, PROVIDER, key, KEEP, reports(record))
    except Refused as exc:
        return refusal(PROVIDER, exc)
