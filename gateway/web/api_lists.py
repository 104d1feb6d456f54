"""Admin API handlers over many rows: suppressions, decisions, stats; keyset-paged."""

from __future__ import annotations

import time

from aiohttp import web

from gateway.policy.vocab import MANUAL_SUPPRESSION_REASONS
from gateway.store.records import SuppressionEntry
from gateway.timefmt import iso_now
from gateway.web.api_request import (
    ApiError,
    address_of,
    body,
    context,
    filters,
    page_size,
    scope_of,
    text_field,
    whole_number,
)


async def list_suppressions(request: web.Request) -> web.Response:
    ctx = context(request)
    query = request.query
    limit = page_size(query)
    email = query.get("email")
    cursor = query.get("cursor") or None
    after = tuple(cursor.split("\t")) if cursor else None
    # a NUL (`%00`) was a 500 on PostgreSQL, whose text holds none
    if after is not None and (len(after) != 3 or any("\x00" in key for key in after)):
        raise ApiError(400, "cursor: use the next_cursor of the previous page")
    entries = await ctx.store.suppressions(
        address_of(email) if email else None,
        limit=limit,
        after=after,
    )
    more = len(entries) == limit and not email
    last = entries[-1] if entries else None
    return web.json_response(
        {
            "suppressions": [suppression_json(s) for s in entries],
            # opaque to clients; tabs appear in no address, scope or reason
            "next_cursor": "\t".join((last.address, last.scope, last.reason))
            if more and last
            else None,
        }
    )


def suppression_json(entry: SuppressionEntry) -> dict[str, str]:
    return {
        "email": entry.address,
        "scope": entry.scope,
        "reason": entry.reason,
        "source": entry.source,
        "created_at": entry.created_at,
    }


async def add_suppression(request: web.Request) -> web.Response:
    ctx = context(request)
    data = await body(request)
    reason = text_field(data, "reason", "unsubscribed")
    if reason not in MANUAL_SUPPRESSION_REASONS:
        raise ApiError(400, f"reason must be one of {', '.join(MANUAL_SUPPRESSION_REASONS)}")
    entry = SuppressionEntry(
        address_of(text_field(data, "email")),
        scope_of(text_field(data, "scope", "all")),
        reason,
        text_field(data, "source", "api"),
        iso_now(),
    )
    added = await ctx.store.suppress([entry])
    return web.json_response(suppression_json(entry), status=201 if added else 200)


async def remove_suppression(request: web.Request) -> web.Response:
    ctx = context(request)
    address = address_of(request.match_info["email"])
    scope = request.query.get("scope")
    removed = await ctx.store.unsuppress(address, scope_of(scope) if scope else None)
    if not removed:
        raise ApiError(404, f"no suppression of {address} to remove")
    return web.json_response({"email": address, "removed": removed})


async def list_decisions(request: web.Request) -> web.Response:
    """Keyset pages: `next_cursor` is the last row's sequence number, never an offset."""
    query = request.query
    search = filters(query)
    limit = page_size(query)
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError(400, "order must be asc or desc")
    search.newest_first = order == "desc"
    search.limit = limit + 1
    cursor = query.get("cursor")
    if cursor:
        seq = whole_number(cursor, "cursor (the next_cursor of the previous page)")
        search.before, search.after = (seq, None) if search.newest_first else (None, seq)
    rows = await context(request).store.decisions(search)
    page = rows[:limit]
    return web.json_response(
        {
            "decisions": [decision.public() for _, decision in page],
            "next_cursor": str(page[-1][0]) if len(rows) > limit else None,
        }
    )


async def stats(request: web.Request) -> web.Response:
    ctx = context(request)
    search = filters({k: v for k, v in request.query.items() if k == "since"})
    counts = await ctx.store.decision_counts(search.since)
    return web.json_response(
        {
            "since": search.since,
            "decisions": {column: dict(rows) for column, rows in counts.items()},
            "queue": {"recipients": (await ctx.store.spool_counts(time.time())).recipients},
        }
    )
