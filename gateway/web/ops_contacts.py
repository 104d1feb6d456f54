"""The dashboard's contact page (everything held about one address) and the queue."""

from __future__ import annotations

import time
from collections.abc import Sequence
from html import escape
from urllib.parse import urlencode

from aiohttp import web

from gateway.addresses import AddressError, canonical, check
from gateway.store.records import ContactView, Decision, DecisionQuery
from gateway.timefmt import from_epoch
from gateway.web import jsontext
from gateway.web.api_contacts import get_decision_proof, get_export
from gateway.web.api_request import ApiError
from gateway.web.context import CONTEXT
from gateway.web.ops_html import Session, dl, error_box, link, ops_page, table
from gateway.web.ops_tables import consent_table, decisions_table, event_table, suppression_table

RECENT_DECISIONS = 20
QUEUE_PAGE = 100


async def contact_page(request: web.Request, session: Session) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    email = request.query.get("email", "").strip()
    form = (
        '<form method="get" action="/ops/contacts"><p><label for="email">Email address</label>'
        f'<br><input id="email" name="email" value="{escape(email)}" size="40"> '
        '<button type="submit">Show</button></p></form>'
    )
    if not email:
        return ops_page(200, "Contacts", form, session)
    try:
        address = canonical(check(email))
    except AddressError as exc:
        return ops_page(400, "Contacts", form + error_box(str(exc)), session)
    view = await ctx.store.contact(address)
    recent = await ctx.store.decisions(
        DecisionQuery(recipient=address, newest_first=True, limit=RECENT_DECISIONS)
    )
    return ops_page(200, "Contacts", form + contact_body(address, view, recent), session)


def contact_body(
    address: str, view: ContactView | None, recent: Sequence[tuple[int, Decision]]
) -> str:
    parts = [f"<h2>{escape(address)}</h2>"]
    if view is None:
        parts.append("<p>No contact record and no suppression.</p>")
    else:
        parts += [
            dl(
                [
                    ("as given", view.original),
                    ("country", view.country or ""),
                    ("source", view.source or ""),
                    ("created", view.created_at or ""),
                    ("last engaged", view.last_engaged_at or ""),
                ]
            ),
            "<h3>Consents</h3>",
            consent_table(view.consents),
            "<h3>Customer relationships</h3>",
            table(
                ["kind", "last at", "categories"],
                [
                    [r.get("kind") or "", r.get("last_at") or "", r.get("categories") or ""]
                    for r in view.relationships
                ],
            )
            if view.relationships
            else "<p>None.</p>",
            "<h3>Suppressions</h3>",
            suppression_table(view.suppressions),
            "<h3>Consent history</h3>",
            event_table(view.events),
        ]
    parts += ["<h3>Last decisions</h3>", decisions_table(recent), export_links(address)]
    return "".join(parts)


def export_links(address: str) -> str:
    """Everything held about the person (GDPR art. 15), to hand over as it is."""
    return (
        "<p>Data on request (GDPR art. 15): "
        + link(export_url(address, "pdf"), "download as PDF")
        + " · "
        + link(export_url(address, "json"), "as JSON")
        + "</p>"
    )


def export_url(address: str, kind: str) -> str:
    return "/ops/contacts/export?" + urlencode({"email": address, "format": kind})


async def contact_export(request: web.Request, session: Session) -> web.StreamResponse:
    """The API's export (web/api_contacts.py) behind the dashboard's sign-in."""
    return await get_export(request, request.query.get("email", ""))


async def decision_proof(request: web.Request, session: Session) -> web.StreamResponse:
    """The API's signed proof at a moment behind the dashboard's sign-in."""
    return await get_decision_proof(request)


async def queue_page(request: web.Request, session: Session) -> web.StreamResponse:
    """Keyset pages in arrival order: each page is one index range, whatever the backlog."""
    ctx = request.app[CONTEXT]
    after = queue_cursor(request.query.get("after", ""))
    rows = await ctx.store.spool_page(after, QUEUE_PAGE + 1)
    entries = rows[:QUEUE_PAGE]
    counts = await ctx.store.spool_counts(time.time())
    if not entries:
        text = "The queue is empty." if not after else "No more recipients after this point."
        return ops_page(200, "Queue", f"<p>{text}</p>", session)
    body = f"<p>{counts.recipients} recipient(s) waiting, {counts.due} due now.</p>" + table(
        [
            "queue id",
            "received",
            "sender",
            "recipient",
            "attempts",
            "next try",
            "last reply",
            "bytes",
        ],
        [
            [
                e.id,
                from_epoch(e.received_at),
                e.sender,
                e.recipient,
                str(e.attempts),
                from_epoch(e.next_attempt),
                e.last_reply,
                str(e.size),
            ]
            for e in entries
        ],
    )
    if len(rows) > QUEUE_PAGE:
        last = entries[-1]
        next_cursor = jsontext.cursor([last.received_at, last.id, last.recipient])
        body += (
            '<nav class="paging" aria-label="Pages">'
            + link("/ops/queue?" + urlencode({"after": next_cursor}), "Later →")
            + "</nav>"
        )
    return ops_page(200, "Queue", body, session)


def queue_cursor(value: str) -> tuple[float, str, str] | None:
    """The `after` cursor a "Later" link carries, or a 400 when it is not one."""
    if not value:
        return None
    try:
        received, queue_id, recipient = jsontext.from_cursor(value, (int | float, str, str))
    except ValueError:
        raise ApiError(400, "after: use the link of the previous page") from None
    return float(received), queue_id, recipient
