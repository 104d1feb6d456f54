"""How long a request may take to send its body (`http.request_timeout`).

aiohttp bounds a request's headers with its keep-alive timer (set to the same key in
gateway/app/listeners.py; it runs from the connection's start), but not its body: a client
that trickles a byte a minute held a connection and a handler's task for as long as it
liked, and enough of them hold every file descriptor of the serving process, whose SMTP
listener shares them. Every body read goes through `body_deadline`; past it the answer is
`408 Request Timeout` (RFC 9110 §15.5.9), and aiohttp closes the connection when the rest
of the body has not come within its lingering time (10 s) either.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from gateway.web.context import CONTEXT


@asynccontextmanager
async def body_deadline(request: web.Request) -> AsyncIterator[None]:
    try:
        async with asyncio.timeout(request.app[CONTEXT].config.http.request_timeout):
            yield
    except TimeoutError:
        raise web.HTTPRequestTimeout(text="the request's body did not arrive in time") from None
