"""HTTP side of the gateway (one process with the listener): health, unsubscribe, ops, API.

`context` holds what handlers share, `app` assembles the routes; both are re-exported here
for the process wiring (`from gateway.web import WebContext, build_app`).
"""

from __future__ import annotations

from gateway.web.context import CONTEXT, WebContext

# isort: split
# After CONTEXT: a route module that still imports it from this package finds it bound.
from gateway.web.app import build_app

__all__ = ["CONTEXT", "WebContext", "build_app"]
