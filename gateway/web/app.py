"""The HTTP application: every route of the one listener, each from the module that owns it."""

from __future__ import annotations

from aiohttp import web

from gateway.web import api, health, hooks_routes, ops, security, unsubscribe
from gateway.web.api_request import json_errors
from gateway.web.context import CONTEXT, WebContext


def build_app(context: WebContext) -> web.Application:
    app = web.Application(client_max_size=64 * 1024, middlewares=[json_errors])
    app[CONTEXT] = context
    security.install(app)
    health.add_routes(app)
    unsubscribe.add_routes(app)
    ops.add_routes(app)
    api.add_routes(app)
    hooks_routes.add_routes(app)
    return app
