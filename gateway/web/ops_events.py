"""The dashboard's events outbox (docs/design.md §9): what the gateway owes the application's
webhooks, newest first in keyset pages, with Retry buttons that do what
`gatekeeper events retry [ID…]` does."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from html import escape
from urllib.parse import urlencode

from aiohttp import web

from gateway.store.records import OutboundEvent
from gateway.timefmt import from_epoch
from gateway.web import jsontext
from gateway.web.api_request import ApiError
from gateway.web.context import CONTEXT
from gateway.web.forms import read_form
from gateway.web.ops_html import Session, link, ops_page, redirect, table

log = logging.getLogger(__name__)

PAGE_SIZE = 50
STATUSES = ("pending", "failed", "delivered")
"""OutboundEvent.status: waiting for an attempt, given up on, answered 2xx."""


async def events_page(request: web.Request, session: Session) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    status = request.query.get("status", "")
    if status and status not in STATUSES:
        raise ApiError(400, f"status: one of {', '.join(STATUSES)}")
    before = read_cursor(request.query.get("before", ""))
    rows = await ctx.store.events_list(status or None, PAGE_SIZE + 1, before)
    events = rows[:PAGE_SIZE]
    retried = request.query.get("retried", "")
    body = (
        (f'<p role="status">{escape(retried)} event(s) due now.</p>' if retried else "")
        + status_form(status)
        + form(session, "", "Retry every event not delivered")
    )
    if not events:
        body += "<p>No events.</p>" if before is None else "<p>No older events.</p>"
        return ops_page(200, "Events", body, session)
    body += events_table(events, session, time.time()) + paging(status, before, rows)
    return ops_page(200, "Events", body, session)


def events_table(events: Sequence[OutboundEvent], session: Session, now: float) -> str:
    return table(
        ["created", "type", "target URL", "status", "attempts", "next try", "last answer", ""],
        [
            [
                e.created_at,
                e.type,
                e.endpoint,
                e.status,
                str(e.attempts),
                next_try(e, now),
                e.last_error or (f"delivered {e.delivered_at}" if e.delivered_at else ""),
                "" if e.status == "delivered" else form(session, e.id, "Retry"),
            ]
            for e in events
        ],
        raw_columns={7},
    )


def next_try(event: OutboundEvent, now: float) -> str:
    if event.status != "pending":
        return "—"  # delivered, or given up on until retried
    return "due now" if event.next_attempt <= now else from_epoch(event.next_attempt)


def form(session: Session, event_id: str, label: str) -> str:
    """A POST to /ops/events/retry: one event, or (no id) every one not delivered."""
    named = f'<input type="hidden" name="id" value="{escape(event_id)}">' if event_id else ""
    aria = f' aria-label="Retry event {escape(event_id)}"' if event_id else ""
    return (
        '<form method="post" action="/ops/events/retry">'
        f'<input type="hidden" name="csrf" value="{escape(session.csrf)}">{named}'
        f'<button type="submit"{aria}>{escape(label)}</button></form>'
    )


def status_form(current: str) -> str:
    options = "".join(
        f"<option{' selected' if s == current else ''}>{s}</option>" for s in STATUSES
    )
    return (
        '<form method="get" action="/ops/events" aria-label="Filter events"><p>'
        '<label for="status">Status</label> <select id="status" name="status">'
        f'<option value="">any</option>{options}</select> '
        '<button type="submit">Show</button></p></form>'
    )


def paging(status: str, before: tuple[str, str] | None, rows: Sequence[OutboundEvent]) -> str:
    params = {"status": status} if status else {}
    links = []
    if before is not None:
        links.append(link("/ops/events?" + urlencode(params), "← Newest"))
    if len(rows) > PAGE_SIZE:
        last = rows[PAGE_SIZE - 1]
        cursor = jsontext.cursor([last.created_at, last.id])
        links.append(link("/ops/events?" + urlencode({**params, "before": cursor}), "Older →"))
    return f'<nav class="paging" aria-label="Pages">{"".join(links)}</nav>' if links else ""


def read_cursor(value: str) -> tuple[str, str] | None:
    """The `before` cursor an "Older" link carries, or a 400 when it is not one."""
    if not value:
        return None
    try:
        created_at, event_id = jsontext.from_cursor(value, (str, str))
    except ValueError:
        raise ApiError(400, "before: use the link of the previous page") from None
    return created_at, event_id


async def retry(request: web.Request, session: Session) -> web.StreamResponse:
    """What `gatekeeper events retry [ID]` does; signed_in has checked the CSRF value."""
    ctx = request.app[CONTEXT]
    form_data = await read_form(request)
    ids = [str(v) for v in form_data.getall("id", []) if str(v)]
    touched = await ctx.store.events_retry(ids, time.time())
    log.info("%d event(s) made due from the dashboard by %s", touched, session.user)
    return redirect("/ops/events?" + urlencode({"retried": touched}))
