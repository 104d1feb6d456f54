"""Ops dashboard at /ops/: why a mail did not go out, and on what basis another one did.

Server-rendered HTML, no scripts, no external assets. Sign-in with `http.admin_token` or an
`[[http.users]]` password; the session is a signed cookie (HttpOnly, SameSite=Strict), so
there is no server-side session table, and every form carries a CSRF value bound to it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from urllib.parse import urlencode

from aiohttp import web

from gateway.addresses import AddressError, canonical, check
from gateway.cli import parse_time
from gateway.contacts import normalise_time
from gateway.policy.facts import PURPOSES
from gateway.smtp.auth import verify_password
from gateway.store.records import (
    ConsentEvent,
    ContactView,
    Decision,
    DecisionQuery,
    SuppressionEntry,
)
from gateway.web import CONTEXT, WebContext
from gateway.web.api import FILTERS, ApiError, filters
from gateway.web.pages import page

SESSION_COOKIE = "gk_ops"
LOGIN_COOKIE = "gk_ops_login"
SESSION_SECONDS = 8 * 3600
PAGE_SIZE = 50
CHART_BUCKETS = 24
CHART_ROWS = 20_000
"""At most this many decisions are read for the chart: it must stay cheap on huge tables."""
CHART_CHUNK = 5000
VERDICT_PHASES = ("rcpt", "data")
DEFAULT_RANGE = "24h"
"""Counts and chart cover this when no start time is given: cheap on any table size."""
ADMIN = "admin"
# Domain separation: the admin token is also the API's bearer token.
_SESSION_CONTEXT = b"gatekeeper/ops-session"

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

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SessionHandler = Callable[[web.Request, "Session"], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Session:
    user: str
    csrf: str


def add_routes(app: web.Application) -> None:
    app.router.add_get("/ops", to_dashboard)
    app.router.add_get("/ops/login", login_page)
    app.router.add_post("/ops/login", login)
    app.router.add_post("/ops/logout", signed_in(logout))
    app.router.add_get("/ops/", signed_in(decisions_page))
    app.router.add_get("/ops/decisions/{seq:\\d+}", signed_in(decision_page))
    app.router.add_get("/ops/contacts", signed_in(contact_page))
    app.router.add_get("/ops/queue", signed_in(queue_page))


def redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


async def to_dashboard(request: web.Request) -> web.Response:
    return redirect("/ops/")


# --- sessions ------------------------------------------------------------------------------


def session_key(ctx: WebContext) -> bytes | None:
    token = ctx.config.http.admin_token
    if not token:
        return None
    return hmac.new(token.encode(), _SESSION_CONTEXT, hashlib.sha256).digest()


def sign(key: bytes, purpose: str, value: str) -> str:
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


def session_cookie(key: bytes, user: str) -> str:
    claims = {"u": user, "e": int(time.time()) + SESSION_SECONDS, "n": secrets.token_hex(8)}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode()
    return f"{payload}.{sign(key, 'session', payload)}"


def read_session(key: bytes, cookie: str) -> Session | None:
    payload, _, signature = cookie.partition(".")
    if not hmac.compare_digest(sign(key, "session", payload), signature):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except ValueError:
        return None
    if not isinstance(claims, dict) or claims.get("e", 0) < time.time():
        return None
    return Session(str(claims.get("u", "")), sign(key, "csrf", payload))


def set_cookie(
    response: web.Response, ctx: WebContext, name: str, value: str, max_age: int
) -> None:
    secure = ctx.config.http.public_url.startswith("https:")
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="Strict",
                        secure=secure, path="/ops")


def signed_in(handler: SessionHandler) -> Handler:
    """Pages need a session; a POST needs the session's CSRF value too."""

    async def run(request: web.Request) -> web.StreamResponse:
        ctx = request.app[CONTEXT]
        key = session_key(ctx)
        if key is None:
            return disabled_page()
        session = read_session(key, request.cookies.get(SESSION_COOKIE, ""))
        if session is None:
            return redirect("/ops/login?" + urlencode({"next": request.path_qs}))
        if request.method == "POST":
            form = await request.post()
            if not hmac.compare_digest(str(form.get("csrf", "")), session.csrf):
                return ops_page(403, "Form expired", "<p>Reload the page and try again.</p>")
        try:
            return await handler(request, session)
        except ApiError as exc:
            return ops_page(exc.status, "Cannot show this", error_box(str(exc)), session)

    return run


def disabled_page() -> web.Response:
    return ops_page(
        503,
        "The dashboard is disabled",
        "<p>Set <code>http.admin_token</code> in the config file (or the environment "
        "variable <code>GATEKEEPER_HTTP__ADMIN_TOKEN</code>) to a long random value, for "
        "example the output of <code>python3 -c 'import secrets; print(secrets.token_urlsafe"
        "(32))'</code>, and restart the gateway. Sign in with that token, or add "
        "<code>[[http.users]]</code> entries (<code>name</code>, <code>password_hash</code> "
        "from <code>gatekeeper user add NAME</code>).</p>",
    )


async def login_page(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    key = session_key(ctx)
    if key is None:
        return disabled_page()
    return login_form(request, ctx, key, "", 200)


def login_form(
    request: web.Request, ctx: WebContext, key: bytes, problem: str, status: int
) -> web.Response:
    nonce = secrets.token_urlsafe(16)
    target = safe_next(request.query.get("next", ""))
    body = (
        (error_box(problem) if problem else "")
        + '<form method="post" action="/ops/login?' + escape(urlencode({"next": target}))
        + f'"><input type="hidden" name="csrf" value="{sign(key, "login", nonce)}">'
        '<p><label for="name">User name</label><br><input id="name" name="name" '
        'autocomplete="username"></p><p class="hint">Leave it empty to sign in with the '
        'admin token.</p><p><label for="secret">Password or admin token</label><br>'
        '<input id="secret" name="secret" type="password" autocomplete="current-password" '
        'required></p><button type="submit">Sign in</button></form>'
    )
    response = ops_page(status, "Gatekeeper sign-in", body)
    set_cookie(response, ctx, LOGIN_COOKIE, nonce, 3600)
    return response


def safe_next(target: str) -> str:
    """Only back into the dashboard: never an open redirect."""
    return target if target.startswith("/ops/") and "//" not in target else "/ops/"


async def login(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    key = session_key(ctx)
    if key is None:
        return disabled_page()
    form = await request.post()
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not nonce or not hmac.compare_digest(str(form.get("csrf", "")), sign(key, "login", nonce)):
        return login_form(request, ctx, key, "The form expired; please sign in again.", 403)
    user = await authenticate(ctx, str(form.get("name", "")), str(form.get("secret", "")))
    if user is None:
        return login_form(request, ctx, key, "Wrong user name, password or token.", 401)
    response = redirect(safe_next(request.query.get("next", "")))
    set_cookie(response, ctx, SESSION_COOKIE, session_cookie(key, user), SESSION_SECONDS)
    response.del_cookie(LOGIN_COOKIE, path="/ops")
    return response


async def authenticate(ctx: WebContext, name: str, secret: str) -> str | None:
    if not name:
        token = ctx.config.http.admin_token or ""
        return ADMIN if token and hmac.compare_digest(secret.encode(), token.encode()) else None
    user = next((u for u in ctx.config.http.users if u.name == name), None)
    if user is None:
        return None
    # argon2/scrypt are slow on purpose: keep them off the event loop.
    ok = await asyncio.to_thread(verify_password, secret, user.password_hash)
    return name if ok else None


async def logout(request: web.Request, session: Session) -> web.StreamResponse:
    response = redirect("/ops/login")
    response.del_cookie(SESSION_COOKIE, path="/ops")
    return response


# --- decisions -----------------------------------------------------------------------------


async def decisions_page(request: web.Request, session: Session) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    params = {k: v for k, v in request.query.items() if k in FILTERS and v}
    search = filters(params)
    rows, older, newer = await decision_page_rows(ctx, search, request.query)
    since = search.since or str(parse_time(DEFAULT_RANGE))
    counts = await ctx.store.decision_counts(since)
    chart_rows, capped = await chart_sample(ctx, search, since)
    body = "".join([
        filter_form(params),
        '<div class="cols"><section><h2>Allowed and refused over time</h2>',
        chart(chart_rows, since, search.until, capped),
        f"</section><section><h2>Counts by reason since {escape(since)}</h2>",
        table(["reason", "decisions"], [[r or "(none: allowed)", str(n)]
                                        for r, n in counts.get("reason", [])]),
        "</section></div><h2>Decisions</h2>",
        decisions_table(rows),
        paging(params, older, newer),
    ])
    return ops_page(200, "Decisions", body, session)


async def decision_page_rows(
    ctx: WebContext, search: DecisionQuery, query: Mapping[str, str]
) -> tuple[list[tuple[int, Decision]], int | None, int | None]:
    """Newest first; `before`/`after` are seq cursors, so every page is an index range scan.
    Returns the rows and the cursors for the older and the newer page (None: no such page)."""
    search.limit = PAGE_SIZE + 1
    after, before = cursor(query, "after"), cursor(query, "before")
    if after is not None:
        search.after, search.newest_first = after, False
        rows = await ctx.store.decisions(search)
        more = len(rows) > PAGE_SIZE
        rows = list(reversed(rows[:PAGE_SIZE]))
        return rows, rows[-1][0] if rows else None, rows[0][0] if more and rows else None
    search.before, search.newest_first = before, True
    rows = await ctx.store.decisions(search)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    newer = rows[0][0] if before is not None and rows else None
    return rows, rows[-1][0] if more else None, newer


def cursor(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name, "")
    return int(value) if value.isdigit() else None


def filter_form(params: Mapping[str, str]) -> str:
    def text(name: str, label: str, hint: str = "") -> str:
        return (
            f'<label>{label}<input name="{name}" value="{escape(params.get(name, ""))}"'
            f' placeholder="{escape(hint)}"></label>'
        )

    def choice(name: str, label: str, options: Iterable[str]) -> str:
        current = params.get(name, "")
        items = "".join(
            f'<option{" selected" if o == current else ""}>{escape(o)}</option>' for o in options
        )
        return f'<label>{label}<select name="{name}"><option value="">any</option>{items}' \
               "</select></label>"

    return (
        '<form method="get" action="/ops/" aria-label="Filter decisions"><div class="filters">'
        + text("since", "From", "2h, 7d or ISO time")
        + text("until", "Until", "ISO time")
        + choice("action", "Action", ("allow", "deny", "defer"))
        + choice("reason", "Reason", REASONS)
        + choice("purpose", "Purpose", PURPOSES)
        + text("jurisdiction", "Jurisdiction", "eu, pl, us…")
        + text("sender", "Sender")
        + text("recipient", "Recipient")
        + text("message_id", "Message-ID or queue id")
        + '</div><p><button type="submit">Filter</button> <a href="/ops/">Clear</a></p></form>'
    )


REASONS = (
    "invalid-address", "erased", "hard-bounce", "complaint", "unsubscribed", "objected",
    "purchased-list", "no-consent", "consent-withdrawn", "consent-expired", "consent-unproven",
    "double-opt-in-required", "soft-opt-in-expired", "soft-opt-in-dissimilar", "not-a-customer",
    "partner-not-consented", "missing-unsubscribe-link", "missing-sender-identification",
    "missing-postal-address", "missing-subject-label", "delivered", "deferred", "bounced",
)
"""DESIGN §3, in its order of precedence, then the delivery outcomes."""


def decisions_table(rows: Sequence[tuple[int, Decision]]) -> str:
    if not rows:
        return "<p>No decisions match.</p>"
    return table(
        ["time", "action", "basis / reason", "recipient", "purpose", "jurisdiction", "phase", ""],
        [[d.time, action_cell(d.action), d.basis or d.reason, d.recipient, d.purpose,
          d.jurisdiction, d.phase, link(f"/ops/decisions/{seq}", "details")]
         for seq, d in rows],
        raw_columns={1, 7},
    )


def paging(params: Mapping[str, str], older: int | None, newer: int | None) -> str:
    links = []
    if newer is not None:
        links.append(link("/ops/?" + urlencode({**params, "after": newer}), "← Newer"))
    if older is not None:
        links.append(link("/ops/?" + urlencode({**params, "before": older}), "Older →"))
    return f'<nav class="paging" aria-label="Pages">{"".join(links)}</nav>' if links else ""


async def chart_sample(
    ctx: WebContext, search: DecisionQuery, since: str
) -> tuple[list[Decision], bool]:
    """The decisions in the chart's range, newest first, read in keyset chunks up to a cap."""
    query = DecisionQuery(**{f: getattr(search, f) for f in FILTERS})
    query.since, query.newest_first, query.limit = since, True, CHART_CHUNK
    sample: list[Decision] = []
    while len(sample) < CHART_ROWS:
        rows = await ctx.store.decisions(query)
        # Delivery outcomes and unsubscribes are not verdicts: counted, a delivered message
        # would show as allowed twice. A phase filter shows exactly what it names.
        sample += [d for _, d in rows if search.phase or d.phase in VERDICT_PHASES]
        if len(rows) < CHART_CHUNK:
            return sample, False
        query.before = rows[-1][0]
    return sample, True


def chart(rows: Sequence[Decision], since: str, until: str | None, capped: bool) -> str:
    start = parse_iso(since)
    end = parse_iso(until) if until else datetime.now(UTC)
    span = max((end - start).total_seconds(), 1.0)
    allowed, refused = [0] * CHART_BUCKETS, [0] * CHART_BUCKETS
    for d in rows:
        offset = (parse_iso(d.time) - start).total_seconds()
        index = min(max(int(offset / span * CHART_BUCKETS), 0), CHART_BUCKETS - 1)
        if d.action == "allow":
            allowed[index] += 1
        elif d.action == "deny":
            refused[index] += 1
    note = f"<p class=\"hint\">From the newest {CHART_ROWS:,} decisions only.</p>" if capped else ""
    return bars(allowed, refused, start, span) + note


def bars(allowed: list[int], refused: list[int], start: datetime, span: float) -> str:
    width, height, slot = 480, 160, 480 / CHART_BUCKETS
    top = max([*allowed, *refused, 1])
    parts = []
    for i, (ok, no) in enumerate(zip(allowed, refused, strict=True)):
        when = start + timedelta(seconds=span * i / CHART_BUCKETS)
        label = f"{when:%Y-%m-%d %H:%M}: {ok} allowed, {no} refused"
        for j, (count, colour) in enumerate(((ok, "#047857"), (no, "#b91c1c"))):
            h = count / top * (height - 10)
            parts.append(
                f'<rect x="{i * slot + 1 + j * slot / 2:.1f}" y="{height - h:.1f}" '
                f'width="{slot / 2 - 1:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{escape(label)}</title></rect>"
            )
    total_ok, total_no = sum(allowed), sum(refused)
    summary = f"{total_ok} allowed and {total_no} refused since {start:%Y-%m-%d %H:%M} UTC"
    return (
        f'<svg role="img" aria-label="{escape(summary)}" viewBox="0 0 {width} {height + 2}" '
        f'width="100%" style="max-width:{width}px;background:#fafafa">'
        f"<title>{escape(summary)}</title>{''.join(parts)}</svg>"
        f'<p class="hint"><span class="allow">■ allowed {total_ok}</span> '
        f'<span class="deny">■ refused {total_no}</span> (max {top} per bar)</p>'
    )


async def decision_page(request: web.Request, session: Session) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    seq = int(request.match_info["seq"])
    rows = await ctx.store.decisions(DecisionQuery(after=seq - 1, limit=1))
    if not rows or rows[0][0] != seq:
        raise ApiError(404, f"There is no decision number {seq}.")
    decision = rows[0][1]
    view = await ctx.store.contact(decision.recipient)
    fields = [(name, value) for name, value in decision.public().items()]
    fields += [("queue id", decision.queue_id), ("detail", decision.detail)]
    body = (
        dl(fields)
        + f"<h2>What was known about the recipient at {escape(decision.time)}</h2>"
        + (as_of(view, decision.time) if view else "<p>No contact record or suppression "
           "is held for this address now (never known, or erased).</p>")
    )
    return ops_page(200, f"Decision {decision.id}", body, session)


def as_of(view: ContactView, moment: str) -> str:
    """The consent record replayed from the append-only history up to `moment`: the state
    the policy saw, not today's."""
    events = [e for e in view.events if e.at <= moment]
    suppressions = [s for s in view.suppressions if s.created_at <= moment]
    return (
        "<h3>Consents</h3>" + consent_table(replay(events))
        + "<h3>Suppressions</h3>" + suppression_table(suppressions)
        + "<h3>Consent events up to then</h3>" + event_table(events)
        + "<p>" + link("/ops/contacts?" + urlencode({"email": view.address}),
                       "The contact as it is now") + "</p>"
    )


def replay(events: Sequence[ConsentEvent]) -> list[dict[str, str]]:
    state: dict[str, dict[str, str]] = {}
    for e in sorted(events, key=lambda e: e.at):
        consent = state.setdefault(e.topic, {"topic": e.topic})
        if e.kind in ("grant", "resubscribe"):
            consent.update(granted_at=e.at, proof=e.proof, source=e.source)
            consent.pop("ended_at", None)
            consent.pop("ended_by", None)
        elif e.kind == "confirm":
            consent["double_opt_in_at"] = e.at
        else:
            consent.update(ended_at=e.at, ended_by=e.kind)
    return list(state.values())


def consent_table(consents: Sequence[Mapping[str, str | None]]) -> str:
    if not consents:
        return "<p>None.</p>"
    columns = ["topic", "granted_at", "double_opt_in_at", "ended_at", "ended_by",
               "withdrawn_at", "source", "proof"]
    shown = [c for c in columns if any(row.get(c) for row in consents)]
    return table(shown, [[row.get(c) or "" for c in shown] for row in consents],
                 proof_column=shown.index("proof") if "proof" in shown else None)


def suppression_table(entries: Sequence[SuppressionEntry]) -> str:
    if not entries:
        return "<p>None.</p>"
    return table(["scope", "reason", "source", "since"],
                 [[s.scope, s.reason, s.source, s.created_at] for s in entries])


def event_table(events: Sequence[ConsentEvent]) -> str:
    if not events:
        return "<p>None.</p>"
    return table(["at", "event", "topic", "source", "proof"],
                 [[e.at, e.kind, e.topic, e.source, e.proof] for e in events], proof_column=4)


# --- contact and queue ---------------------------------------------------------------------


async def contact_page(request: web.Request, session: Session) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    email = request.query.get("email", "").strip()
    form = (
        '<form method="get" action="/ops/contacts"><p><label for="email">Email address</label>'
        f'<br><input id="email" name="email" value="{escape(email)}" size="40"> '
        '<button type="submit">Show</button></p></form>'
    )
    if not email:
        return ops_page(200, "Contacts", form, session)
    try:
        address = canonical(check(email))
    except AddressError as exc:
        return ops_page(400, "Contacts", form + error_box(str(exc)), session)
    view = await ctx.store.contact(address)
    recent = await ctx.store.decisions(
        DecisionQuery(recipient=address, newest_first=True, limit=20)
    )
    return ops_page(200, "Contacts", form + contact_body(address, view, recent), session)


def contact_body(
    address: str, view: ContactView | None, recent: Sequence[tuple[int, Decision]]
) -> str:
    parts = [f"<h2>{escape(address)}</h2>"]
    if view is None:
        parts.append("<p>No contact record and no suppression.</p>")
    else:
        parts += [
            dl([("as given", view.original), ("country", view.country or ""),
                ("source", view.source or ""), ("created", view.created_at or ""),
                ("last engaged", view.last_engaged_at or "")]),
            "<h3>Consents</h3>", consent_table(view.consents),
            "<h3>Customer relationships</h3>",
            table(["kind", "last at", "categories"],
                  [[r.get("kind") or "", r.get("last_at") or "", r.get("categories") or ""]
                   for r in view.relationships]) if view.relationships else "<p>None.</p>",
            "<h3>Suppressions</h3>", suppression_table(view.suppressions),
            "<h3>Consent history</h3>", event_table(view.events),
        ]
    parts += ["<h3>Last decisions</h3>", decisions_table(recent)]
    return "".join(parts)


async def queue_page(request: web.Request, session: Session) -> web.StreamResponse:
    entries = await request.app[CONTEXT].store.spool_list()
    if not entries:
        return ops_page(200, "Queue", "<p>The queue is empty.</p>", session)
    body = f"<p>{len(entries)} recipient(s) waiting.</p>" + table(
        ["queue id", "received", "sender", "recipient", "attempts", "next try", "last reply",
         "bytes"],
        [[e.id, epoch(e.received_at), e.sender, e.recipient, str(e.attempts),
          epoch(e.next_attempt), e.last_reply, str(e.size)] for e in entries],
    )
    return ops_page(200, "Queue", body, session)


# --- HTML helpers ----------------------------------------------------------------------------


def ops_page(
    status: int, title: str, body: str, session: Session | None = None
) -> web.Response:
    return page(status, title, body, css=OPS_CSS, header=navigation(session))


def navigation(session: Session | None) -> str:
    if session is None:
        return ""
    return (
        '<nav aria-label="Dashboard"><a href="/ops/">Decisions</a>'
        '<a href="/ops/contacts">Contacts</a><a href="/ops/queue">Queue</a>'
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


def parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def epoch(seconds: float) -> str:
    return normalise_time(datetime.fromtimestamp(seconds, UTC).isoformat())
