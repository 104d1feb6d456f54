"""Ops dashboard at /ops/: why a mail did not go out, and on what basis another one did.

Server-rendered HTML, no scripts, no external assets. The routes; sign-in lives in
ops_session, the pages in ops_decisions and ops_contacts, the page kit in ops_html.
"""

from __future__ import annotations

from aiohttp import web

from gateway.web.context import CONTEXT
from gateway.web.ops_contacts import contact_export, contact_page, decision_proof, queue_page
from gateway.web.ops_decisions import decision_page, decisions_page
from gateway.web.ops_events import events_page, retry
from gateway.web.ops_guard import GUARD, LoginThrottle, OpsGuard
from gateway.web.ops_html import redirect
from gateway.web.ops_instances import instances_page
from gateway.web.ops_senders import resume, senders_page
from gateway.web.ops_session import login, login_page, logout, signed_in
from gateway.web.ops_shadow import shadow_page


def add_routes(app: web.Application) -> None:
    app[GUARD] = OpsGuard(LoginThrottle(app[CONTEXT].config.http.login_max_failures))
    app.router.add_get("/ops", to_dashboard)
    app.router.add_get("/ops/login", login_page)
    app.router.add_post("/ops/login", login)
    app.router.add_post("/ops/logout", signed_in(logout))
    app.router.add_get("/ops/", signed_in(decisions_page))
    app.router.add_get("/ops/decisions/{seq:\\d+}", signed_in(decision_page))
    app.router.add_get("/ops/contacts", signed_in(contact_page))
    app.router.add_get("/ops/contacts/export", signed_in(contact_export))
    app.router.add_get("/ops/decisions/{seq:\\d+}/proof", signed_in(decision_proof))
    app.router.add_get("/ops/queue", signed_in(queue_page))
    app.router.add_get("/ops/instances", signed_in(instances_page))
    app.router.add_get("/ops/shadow", signed_in(shadow_page))
    app.router.add_get("/ops/senders", signed_in(senders_page))
    app.router.add_post("/ops/senders/resume", signed_in(resume))
    app.router.add_get("/ops/events", signed_in(events_page))
    app.router.add_post("/ops/events/retry", signed_in(retry))


async def to_dashboard(request: web.Request) -> web.Response:
    return redirect("/ops/")
