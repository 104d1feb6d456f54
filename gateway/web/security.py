"""What every HTTP answer carries: security headers on pages, JSON and errors alike.

The headers are set when a response is about to be sent (`on_response_prepare`), so the
router's own 404/405, a 413 from reading a body and a JSON error get them as surely as a
page does: a middleware would miss the answers raised past it.
"""

from __future__ import annotations

from aiohttp import web

ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Every answer here is per person or per moment (tokens, consent, queue, probes).
    "Cache-Control": "no-store",
}
HTML_ONLY = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
}


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in ALWAYS.items():
        response.headers.setdefault(name, value)
    if response.content_type == "text/html":
        for name, value in HTML_ONLY.items():
            response.headers.setdefault(name, value)


def install(app: web.Application) -> None:
    app.on_response_prepare.append(add_headers)
