"""HTTP side of the gateway (one process with the listener): health, unsubscribe, ops, API.

`context` holds what handlers share, `app` assembles the routes; both are re-exported here.
The route modules import `gateway.web.context` itself, never this package's names, so the
order of these imports does not matter.
"""

from __future__ import annotations

from gateway.web.app import build_app
from gateway.web.context import CONTEXT, WebContext

__all__ = ["CONTEXT", "WebContext", "build_app"]
