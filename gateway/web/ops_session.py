"""Dashboard sign-in: `http.admin_token` or an `[[http.users]]` password.

The session is a signed cookie (HttpOnly, SameSite=Strict) naming a session the server
holds (ops_guard), so signing out ends it everywhere; every form carries a CSRF value bound
to it. Wrong passwords are slowed down and then refused per client address (429).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from html import escape
from urllib.parse import urlencode

from aiohttp import web

from gateway.passwords import verify_password
from gateway.web.api_request import ApiError
from gateway.web.compare import same
from gateway.web.context import CONTEXT, WebContext
from gateway.web.forms import read_form
from gateway.web.ops_guard import GUARD, SessionTable
from gateway.web.ops_html import Session, error_box, ops_page, redirect

log = logging.getLogger(__name__)

SESSION_COOKIE = "gk_ops"
LOGIN_COOKIE = "gk_ops_login"
SESSION_SECONDS = 8 * 3600
ADMIN = "admin"
# Domain separation: the admin token is also the API's bearer token.
_SESSION_CONTEXT = b"gatekeeper/ops-session"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SessionHandler = Callable[[web.Request, Session], Awaitable[web.StreamResponse]]


def session_key(ctx: WebContext) -> bytes | None:
    token = ctx.config.http.admin_token
    if not token:
        return None
    return hmac.new(token.encode(), _SESSION_CONTEXT, hashlib.sha256).digest()


def sign(key: bytes, purpose: str, value: str) -> str:
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


def session_cookie(key: bytes, user: str, sid: str) -> str:
    claims = {"u": user, "e": int(time.time()) + SESSION_SECONDS, "n": sid}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode()
    return f"{payload}.{sign(key, 'session', payload)}"


def read_session(key: bytes, cookie: str, sessions: SessionTable) -> Session | None:
    payload, _, signature = cookie.partition(".")
    if not same(sign(key, "session", payload), signature):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except ValueError:
        return None
    if not isinstance(claims, dict) or claims.get("e", 0) < time.time():
        return None
    sid = str(claims.get("n", ""))
    if not sessions.valid(sid):  # signed out, or from before a restart
        return None
    return Session(str(claims.get("u", "")), sign(key, "csrf", payload), sid)


def set_cookie(
    response: web.Response, ctx: WebContext, name: str, value: str, max_age: int
) -> None:
    secure = ctx.config.http.public_url.startswith("https:")
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="Strict", secure=secure, path="/ops"
    )


def our_cookie(request: web.Request, name: str) -> str:
    """A cookie as this dashboard sets it, else "": ours are ASCII (base64url, hex), while a
    Cookie header's bytes that are not UTF-8 arrive as surrogates, which the HMAC over the
    value could not encode (a 500 for anyone who sent one)."""
    value = request.cookies.get(name, "")
    return value if value.isascii() else ""


def signed_in(handler: SessionHandler) -> Handler:
    """Pages need a session; a POST needs the session's CSRF value too."""

    async def run(request: web.Request) -> web.StreamResponse:
        ctx = request.app[CONTEXT]
        key = session_key(ctx)
        if key is None:
            return disabled_page()
        cookie = our_cookie(request, SESSION_COOKIE)
        session = read_session(key, cookie, request.app[GUARD].sessions)
        if session is None:
            return redirect("/ops/login?" + urlencode({"next": request.path_qs}))
        if request.method == "POST":
            form = await read_form(request)
            if not same(str(form.get("csrf", "")), session.csrf):
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
        + '<form method="post" action="/ops/login?'
        + escape(urlencode({"next": target}))
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
    form = await read_form(request)
    nonce = our_cookie(request, LOGIN_COOKIE)
    if not nonce or not same(str(form.get("csrf", "")), sign(key, "login", nonce)):
        return login_form(request, ctx, key, "The form expired; please sign in again.", 403)
    guard, client = request.app[GUARD], request.remote or ""
    wait = guard.throttle.retry_after(client)
    if wait:
        return too_many(wait)
    user = await authenticate(ctx, str(form.get("name", "")), str(form.get("secret", "")))
    if user is None:
        log.warning("dashboard sign-in failed from %s as %r", client, str(form.get("name", "")))
        await asyncio.sleep(guard.throttle.failed(client))
        return login_form(request, ctx, key, "Wrong user name, password or token.", 401)
    guard.throttle.succeeded(client)
    response = redirect(safe_next(request.query.get("next", "")))
    sid = guard.sessions.open(SESSION_SECONDS)
    set_cookie(response, ctx, SESSION_COOKIE, session_cookie(key, user, sid), SESSION_SECONDS)
    response.del_cookie(LOGIN_COOKIE, path="/ops")
    return response


async def authenticate(ctx: WebContext, name: str, secret: str) -> str | None:
    if not name:
        token = ctx.config.http.admin_token or ""
        return ADMIN if token and same(secret, token) else None
    user = next((u for u in ctx.config.http.users if u.name == name), None)
    if user is None:
        return None
    # argon2/scrypt are slow on purpose: keep them off the event loop.
    ok = await asyncio.to_thread(verify_password, secret, user.password_hash)
    return name if ok else None


def too_many(wait: float) -> web.Response:
    minutes = max(1, round(wait / 60))
    response = ops_page(
        429,
        "Too many failed sign-ins",
        f"<p>Sign-in from this address is paused; try again in about {minutes} minute(s).</p>",
    )
    response.headers["Retry-After"] = str(math.ceil(wait))  # RFC 6585 §4
    return response


async def logout(request: web.Request, session: Session) -> web.StreamResponse:
    request.app[GUARD].sessions.close(session.sid)
    response = redirect("/ops/login")
    response.del_cookie(SESSION_COOKIE, path="/ops")
    return response
