"""HTTP side of the gateway (one process with the listener): health, unsubscribe, ops, API."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from gateway.audit import Audit
from gateway.config import Config
from gateway.store import Store

CONTEXT: web.AppKey[WebContext] = web.AppKey("gatekeeper", object)  # type: ignore[arg-type]


@dataclass
class WebContext:
    config: Config
    store: Store
    audit: Audit


def build_app(context: WebContext) -> web.Application:
    from gateway.web import unsubscribe

    app = web.Application(client_max_size=64 * 1024)
    app[CONTEXT] = context

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    app.router.add_get("/healthz", healthz)
    unsubscribe.add_routes(app)
    return app
