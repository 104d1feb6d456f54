"""Unsubscribe endpoint (docs/design.md §6): RFC 8058 one-click POST and a preference page on GET.

A GET never changes anything: link scanners and mail-security proxies prefetch URLs. Every
change is a POST to the same URL, either the bare one-click body that mail providers send
without a session, or a form of the preference page carrying an HMAC of (token, form).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from aiohttp import web

from gateway.addresses import AddressError, canonical
from gateway.consent import tokens
from gateway.pipeline import optout
from gateway.pipeline.optout import ALL, UNSUBSCRIBED
from gateway.store.records import ContactView
from gateway.web import resubscribe
from gateway.web.context import CONTEXT, WebContext
from gateway.web.forms import read_form
from gateway.web.i18n import catalog
from gateway.web.unsubscribe_base import (
    Chosen,
    Refused,
    choose_words,
    csrf_ok,
    csrf_value,
    guarded,
    proof,
    signing_keys,
)
from gateway.web.unsubscribe_pages import (
    LEAVE,
    RESUBSCRIBE,
    Forms,
    Link,
    Preferences,
    Words,
    done_page,
    left_notice,
    preference_page,
    rejoined_notice,
)

ONE_CLICK = [("List-Unsubscribe", "One-Click")]  # RFC 8058 §3.1: the whole POST body
SOURCE_ONE_CLICK = "one-click"
SOURCE_PAGE = "unsubscribe-page"


def add_routes(app: web.Application) -> None:
    catalog()  # read the locale files at start-up, not on a person's first click
    app.router.add_get("/u/{token}", guarded(show_page))
    app.router.add_post("/u/{token}", guarded(handle_post))
    resubscribe.add_routes(app)


# --- handlers ------------------------------------------------------------------------------


async def show_page(request: web.Request, chosen: Chosen) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    keys = signing_keys(ctx)
    link = verified_link(ctx, keys, request.match_info["token"])
    view = await ctx.store.contact(link.address)
    words = chosen.words = choose_words(request, link, view)
    return preference_page(words, forms(keys, link), link, preferences(view), notice="")


async def handle_post(request: web.Request, chosen: Chosen) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    keys = signing_keys(ctx)
    link = verified_link(ctx, keys, request.match_info["token"])
    view = await ctx.store.contact(link.address)
    words = chosen.words = choose_words(request, link, view)
    form = await read_form(request)  # unreadable: a 400 page (guarded)
    fields = [(name, value) for name, value in form.items() if isinstance(value, str)]
    if fields == ONE_CLICK and len(form) == 1:
        await leave(ctx, link, [link.scope], SOURCE_ONE_CLICK, proof(request))
        return done_page(words, link)
    return await page_form(request, words, keys, link, fields, preferences(view))


async def page_form(
    request: web.Request,
    words: Words,
    keys: Sequence[bytes],
    link: Link,
    fields: list[tuple[str, str]],
    before: Preferences,
) -> web.Response:
    action, csrf = field_value(fields, "action"), field_value(fields, "csrf")
    if action not in (LEAVE, RESUBSCRIBE) or not csrf_ok(keys, link.token, action, csrf):
        raise Refused(403, "csrf")
    ctx = request.app[CONTEXT]
    scopes = list(dict.fromkeys(value for name, value in fields if name == "scope"))
    if not scopes:
        notice = words.text("notice_nothing")
    elif action == LEAVE:
        notice = await leave_from_page(request, words, link, before, scopes)
    else:
        notice = await resubscribe_from_page(request, words, link, before, scopes)
    after = preferences(await ctx.store.contact(link.address))
    return preference_page(words, forms(keys, link), link, after, notice)


async def leave_from_page(
    request: web.Request, words: Words, link: Link, prefs: Preferences, scopes: list[str]
) -> str:
    offered = {link.scope, ALL, *prefs.subscribed}
    if not set(scopes) <= offered:
        raise Refused(400, "choice")
    text = "; ".join(words.leave_text(scope) for scope in scopes)
    evidence = proof(request, text, words.lang)
    await leave(request.app[CONTEXT], link, scopes, SOURCE_PAGE, evidence)
    return left_notice(words, scopes)


async def resubscribe_from_page(
    request: web.Request, words: Words, link: Link, prefs: Preferences, scopes: list[str]
) -> str:
    """Only a request: the address itself confirms it (resubscribe.py, double opt-in)."""
    wanted = [scope for scope in scopes if scope in prefs.left]
    refused = [scope for scope in scopes if scope not in wanted]
    notice = rejoined_notice(words, [], refused) if refused else ""
    if wanted:
        sent = await resubscribe.request_confirmation(request, words, link, wanted)
        notice = f"{sent} {notice}".strip()
    return notice


def field_value(fields: list[tuple[str, str]], name: str) -> str:
    return next((value for key, value in fields if key == name), "")


# --- store changes ---------------------------------------------------------------------------


async def leave(
    ctx: WebContext, link: Link, scopes: Iterable[str], source: str, evidence: str
) -> None:
    await optout.leave(ctx.store, ctx.audit, link.address, scopes, source, evidence)


# --- tokens and form keys ------------------------------------------------------------------


def verified_link(ctx: WebContext, keys: Sequence[bytes], token: str) -> Link:
    # CASL s.11(3) wants links valid 60 days: a lower token_days must not cut that short.
    max_age = max(timedelta(days=ctx.config.unsubscribe.token_days), tokens.MIN_MAX_AGE)
    try:
        claims = tokens.verify(keys, token, datetime.now(UTC), max_age)
        return Link(token, canonical(claims.recipient), claims.scope)
    except tokens.TokenExpired as exc:
        raise Refused(410, "expired") from exc
    except (tokens.TokenMalformed, AddressError) as exc:
        raise Refused(400, "invalid") from exc


# --- state shown on the page ---------------------------------------------------------------


def preferences(view: ContactView | None) -> Preferences:
    reasons: dict[str, set[str]] = {}
    for entry in view.suppressions if view else []:
        reasons.setdefault(entry.scope, set()).add(entry.reason)
    consented = [
        str(c["topic"]) for c in (view.consents if view else []) if c.get("withdrawn_at") is None
    ]
    subscribed = () if ALL in reasons else tuple(t for t in consented if t not in reasons)
    return Preferences(
        subscribed=tuple(t for t in subscribed if t != ALL),
        left=tuple(scope for scope in sorted(reasons) if reasons[scope] == {UNSUBSCRIBED}),
        suppressed=frozenset(reasons),
        blocked=bool(reasons.get(ALL, set()) - {UNSUBSCRIBED}),
    )


def forms(keys: Sequence[bytes], link: Link) -> Forms:
    return Forms(
        leave=csrf_value(keys[0], link.token, LEAVE),
        resubscribe=csrf_value(keys[0], link.token, RESUBSCRIBE),
    )
