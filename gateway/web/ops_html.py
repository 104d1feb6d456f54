"""The dashboard's page kit: its stylesheet, the signed-in navigation, tables and lists.

Every value is escaped here unless a caller says its column is already-built HTML.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

from aiohttp import web

from gateway.web.pages import page

OPS_CSS = """
main{max-width:72rem}
nav{background:#1e3a8a;padding:.5rem 2rem;display:flex;gap:1.25rem;align-items:center}
nav a{color:#fff;font-weight:600}
nav form{margin-left:auto}
nav button{padding:.2rem .8rem;background:#fff;color:#1e3a8a;border-color:#fff}
table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.5rem 0 1.25rem}
th,td{border-bottom:1px solid #d4d4d8;padding:.3rem .45rem;text-align:left;vertical-align:top}
th{background:#f4f4f5}
td.proof{font-family:ui-monospace,monospace;font-size:.8rem;word-break:break-all}
.filters{display:grid;grid-template-columns:repeat(auto-fill,minmax(11rem,1fr));gap:.5rem 1rem}
.filters label{display:flex;flex-direction:column;font-size:.85rem;font-weight:600}
input,select{font:inherit;padding:.25rem .4rem;border:1px solid #71717a;border-radius:4px}
.paging{display:flex;gap:1rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}
dt{font-weight:600}dd{margin:0;word-break:break-word}
.allow{color:#047857;font-weight:600}.deny{color:#b91c1c;font-weight:600}
.defer{color:#a16207;font-weight:600}
.error{background:#fef2f2;border-left:4px solid #b91c1c;padding:.5rem .75rem}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(20rem,1fr));gap:1.5rem}
"""


@dataclass(frozen=True, slots=True)
class Session:
    """Who is signed in, and the CSRF value every form of theirs carries."""

    user: str
    csrf: str
    sid: str = ""
    """The server-side session (ops_guard.SessionTable) the cookie names."""


def ops_page(status: int, title: str, body: str, session: Session | None = None) -> web.Response:
    return page(status, title, body, css=OPS_CSS, header=navigation(session))


def redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def navigation(session: Session | None) -> str:
    if session is None:
        return ""
    return (
        '<nav aria-label="Dashboard"><a href="/ops/">Decisions</a>'
        '<a href="/ops/contacts">Contacts</a><a href="/ops/queue">Queue</a>'
        '<a href="/ops/instances">Instances</a>'
        '<a href="/ops/senders">Senders</a><a href="/ops/events">Events</a>'
        '<a href="/ops/shadow">Shadow</a>'
        f'<form method="post" action="/ops/logout"><input type="hidden" name="csrf" '
        f'value="{escape(session.csrf)}"><button type="submit">Sign out '
        f"{escape(session.user)}</button></form></nav>"
    )


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    raw_columns: frozenset[int] | set[int] = frozenset(),
    proof_column: int | None = None,
) -> str:
    """Cells are escaped unless their column is in `raw_columns` (already-built HTML)."""
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            html = cell if i in raw_columns else escape(cell)
            css = ' class="proof"' if i == proof_column else ""
            cells.append(f"<td{css}>{html}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def dl(pairs: Iterable[tuple[str, str]]) -> str:
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v) or '—'}</dd>" for k, v in pairs)
    return f"<dl>{items}</dl>"


def link(href: str, text: str) -> str:
    return f'<a href="{escape(href)}">{escape(text)}</a>'


def action_cell(action: str) -> str:
    return f'<span class="{escape(action)}">{escape(action)}</span>'


def error_box(message: str) -> str:
    return f'<p class="error" role="alert">{escape(message)}</p>'
