"""HTTP side of the gateway (one process with the listener): health, unsubscribe, ops, API."""

from __future__ import annotations

from aiohttp import web

from gateway.store import Store


def build_app(store: Store) -> web.Application:
    app = web.Application()

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    app.router.add_get("/healthz", healthz)
    return app
