"""What the provider webhooks share (docs/design.md §8): refusing what is not proven, the
replay memory, and handing the provider's events to the report intake as `Report`s, so
they meet the same outcomes and the same suppression list as a bounce by mail.

A request that is unsigned (or without credentials) is answered 401, one wrongly signed,
too old or already taken 403; neither changes anything. A provider that is not configured
answers 404, as if the route were not there.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from gateway.addresses import AddressError, canonical
from gateway.pipeline.report_outcomes import ReportIntake
from gateway.reports import RecipientOutcome, Report
from gateway.web import jsontext
from gateway.web.context import CONTEXT, WebContext
from gateway.web.deadline import body_deadline

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
"""Bytes a provider's POST may carry: SendGrid batches up to a few hundred events."""


class Refused(Exception):
    """The request is not taken; `status` is 401 (nothing to check) or 403 (check failed)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def unsigned(reason: str) -> Refused:
    return Refused(401, reason)


def forged(reason: str) -> Refused:
    return Refused(403, reason)


def check_age(timestamp: float, max_age: float, now: float | None = None) -> None:
    """A signed timestamp older than `max_age` (or as far in the future) is refused; so is
    one that is no moment at all (`nan`: no comparison with it is ever true)."""
    if (
        not math.isfinite(timestamp)
        or abs((time.time() if now is None else now) - timestamp) > max_age
    ):
        raise forged("timestamp outside the window")


def load_json(body: bytes) -> Any:
    try:
        return jsontext.loads(body)
    except ValueError as exc:  # a UnicodeDecodeError too
        raise web.HTTPBadRequest(text="body is not JSON") from exc


def mapping(value: Any) -> dict[str, Any]:
    """A JSON object the provider documents, or {} when a (signed) payload holds another
    type there: read as absent, as an unknown event is ignored, instead of the
    AttributeError that failed the whole request with a 500 the provider retried for days."""
    return value if isinstance(value, dict) else {}


def array(value: Any) -> list[Any]:
    """A JSON array the provider documents, or [] when it is another type (see `mapping`)."""
    return value if isinstance(value, list) else []


def address_of(text: Any) -> str | None:
    """A provider's recipient as the store keys it; None when it is not an address."""
    if not isinstance(text, str):
        return None
    try:
        return canonical(text.strip().strip("<>"))
    except AddressError:
        return None


def report(
    provider: str,
    kind: str,
    address: str | None,
    outcome: str,
    why: str,
    *,
    status: str = "",
    diagnostic: str = "",
    message_id: str = "",
    remote_mta: str = "",
) -> Report:
    """One provider event as a one-recipient Report (the intake's one vocabulary)."""
    line = RecipientOutcome(
        address,
        outcome,
        f"{provider}: {why}",
        final=address or "",
        action="failed" if outcome not in ("delivered", "complaint", "unsubscribe") else "",
        status=status,
        diagnostic=" ".join(diagnostic.split())[:500],
        remote_mta=remote_mta,
    )
    return Report(
        kind,
        f"{provider} webhook",
        (line,),
        reporting_mta=provider,
        original_message_id=message_id.strip().strip("<>"),
    )


def intake_of(ctx: WebContext) -> ReportIntake:
    if ctx.reports is not None:
        return ctx.reports
    return ReportIntake(ctx.store, ctx.audit.writer, ctx.audit, ctx.config.bounces, [])


async def take(
    request: web.Request, provider: str, key: str, keep: float, reports: Sequence[Report]
) -> web.Response:
    """Remember the request's id (a second one is a replay), apply its reports, and answer
    200 once what they changed is committed; if that fails, the id is forgotten again so the
    provider's retry is taken, and the answer is 503 (try again)."""
    ctx = request.app[CONTEXT]
    if not await ctx.store.hook_seen(provider, key, time.time(), keep):
        raise forged("replayed: this request was taken already")
    intake = intake_of(ctx)
    try:
        applied = [a for r in reports for a in await intake.apply(r, source=provider)]
        await ctx.audit.writer.written()
    except Exception as exc:
        log.exception("%s webhook: cannot apply %d reports", provider, len(reports))
        await ctx.store.hook_unsee(provider, key)
        raise web.HTTPServiceUnavailable(text="cannot record the reports now; try again") from exc
    return web.json_response(
        {
            "applied": [
                {"recipient": a.address, "outcome": a.outcome, "done": a.done} for a in applied
            ]
        }
    )


def refusal(provider: str, exc: Refused) -> web.Response:
    log.warning("%s webhook refused (%d): %s", provider, exc.status, exc)
    headers = {"WWW-Authenticate": 'Basic realm="gatekeeper"'} if exc.status == 401 else None
    return web.json_response({"error": str(exc)}, status=exc.status, headers=headers)


async def read_body(request: web.Request) -> bytes:
    """The body up to MAX_BODY, read as a stream: the app's 64 KiB form limit is too small
    for SendGrid's batches (up to 768 KB)."""
    body = bytearray()
    async with body_deadline(request):
        async for chunk in request.content.iter_chunked(64 * 1024):
            body += chunk
            if len(body) > MAX_BODY:
                raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=len(body))
    return bytes(body)
