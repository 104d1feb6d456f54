"""Plain server-rendered pages: one stylesheet inline, no external assets, strict headers."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

from aiohttp import web

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}

CSS = """
body{font:1.0625rem/1.5 system-ui,sans-serif;margin:0;background:#f4f4f5;color:#18181b}
main{max-width:36rem;margin:2rem auto;padding:1.5rem 2rem;background:#fff;border-radius:8px;
box-shadow:0 1px 3px rgba(0,0,0,.15)}
h1{font-size:1.5rem;margin-top:0}
fieldset{border:1px solid #a1a1aa;border-radius:6px;margin:1.25rem 0;padding:.75rem 1rem}
legend{font-weight:600;padding:0 .25rem}
.choice{display:flex;gap:.5rem;align-items:flex-start;margin:.5rem 0}
.choice input{flex:none;width:1.25rem;height:1.25rem;margin-top:.15rem}
button{font:inherit;padding:.5rem 1.25rem;border-radius:6px;border:2px solid #1d4ed8;
background:#1d4ed8;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#1d4ed8}
button:focus-visible,input:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.notice{background:#ecfdf5;border-left:4px solid #047857;padding:.5rem .75rem}
.hint{color:#3f3f46;margin:.25rem 0}
.langs{margin:1.5rem 0 0;padding-top:.75rem;border-top:1px solid #e4e4e7;font-size:.9375rem}
.langs a{margin-right:.75rem;color:#1d4ed8}
"""


def page(
    status: int,
    title: str,
    body: str,
    *,
    css: str = "",
    header: str = "",
    headers: Mapping[str, str] | None = None,
    lang: str = "en",
) -> web.Response:
    """A whole page in language `lang`; `body`, `header` and `css` must already be escaped."""
    html = (
        f'<!doctype html>\n<html lang="{escape(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{escape(title)}</title>'
        f"<style>{CSS}{css}</style></head><body>{header}<main><h1>{escape(title)}</h1>\n"
        f"{body}\n</main></body></html>\n"
    )
    return web.Response(
        status=status,
        text=html,
        content_type="text/html",
        charset="utf-8",
        headers={**SECURITY_HEADERS, "Content-Language": lang, **(headers or {})},
    )
