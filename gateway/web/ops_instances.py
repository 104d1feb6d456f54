"""Ops dashboard: the instances sharing this store, alive or gone, and their queues
(docs/fleet.md)."""

from __future__ import annotations

import time

from aiohttp import web

from gateway.pipeline.instance import ALIVE_WITHIN
from gateway.timefmt import from_epoch
from gateway.web.context import CONTEXT
from gateway.web.ops_html import Session, ops_page, table


async def instances_page(request: web.Request, session: Session) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    now = time.time()
    rows, unheld = await ctx.store.instances(now)
    alive = [r for r in rows if now - r.seen_at <= ALIVE_WITHIN]
    body = (
        f"<p>{len(alive)} of {len(rows)} instance(s) alive (a heartbeat within "
        f"{int(ALIVE_WITHIN)} s). Spooled recipients nobody is delivering: {unheld.due} due "
        f"now, {unheld.retrying} waiting for a retry, {unheld.expired} whose holder's lease "
        "ran out (taken over by the next instance that polls).</p>"
    )
    body += table(
        ["instance", "state", "last seen", "started", "SMTP", "HTTP", "in memory", "held"],
        [
            [
                r.name + (" (this one)" if r.name == ctx.store.holder else ""),
                "alive" if r in alive else "gone",
                from_epoch(r.seen_at) if r.seen_at else "stopped",
                r.started_at,
                r.smtp,
                r.http,
                str(r.backlog),
                str(r.held),
            ]
            for r in rows
        ],
    )
    return ops_page(200, "Instances", body, session)
