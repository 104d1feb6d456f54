"""Unsubscribe endpoint (docs/design.md §6): RFC 8058 one-click POST and a preference page on GET.

A GET never changes anything: link scanners and mail-security proxies prefetch URLs. Every
change is a POST to the same URL, either the bare one-click body that mail providers send
without a session, or a form of the preference page carrying an HMAC of (token, form).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import web

from gateway.addresses import AddressError, canonical
from gateway.consent import tokens
from gateway.pipeline import optout
from gateway.pipeline.optout import ALL, UNSUBSCRIBED
from gateway.store.records import ContactView, iso_now
from gateway.web.context import CONTEXT, WebContext
from gateway.web.i18n import catalog
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
    refusal_page,
    rejoined_notice,
)

log = logging.getLogger(__name__)

ONE_CLICK = [("List-Unsubscribe", "One-Click")]  # RFC 8058 §3.1: the whole POST body
SOURCE_ONE_CLICK = "one-click"
SOURCE_PAGE = "unsubscribe-page"
FORM_VERSION = "unsubscribe-page/1"
# Domain separation: the unsubscribe secret also signs the tokens themselves.
_FORM_CONTEXT = b"gatekeeper/unsubscribe-form\x00"


@dataclass(slots=True)
class Chosen:
    """The person's language once a handler knows it, so a later refusal speaks it too."""

    words: Words | None = None


Handler = Callable[[web.Request, Chosen], Awaitable[web.StreamResponse]]
Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Refused(Exception):
    """A request answered with an explanatory page instead of the normal one; `key` names
    the `<key>_title` and `<key>_body` texts of the locale files."""

    def __init__(self, status: int, key: str) -> None:
        super().__init__(key)
        self.status, self.key = status, key


def add_routes(app: web.Application) -> None:
    catalog()  # read the locale files at start-up, not on a person's first click
    app.router.add_get("/u/{token}", _guarded(show_page))
    app.router.add_post("/u/{token}", _guarded(handle_post))


def _guarded(handler: Handler) -> Route:
    """Turn refusals and faults into plain pages: a person must never see a stack trace."""

    async def run(request: web.Request) -> web.StreamResponse:
        chosen = Chosen()
        try:
            return await handler(request, chosen)
        except Refused as refusal:
            status, key = refusal.status, refusal.key
        except web.HTTPException as exc:  # e.g. 413 from reading an oversized body
            status, key = exc.status, "unreadable"
        except Exception:
            log.exception("unsubscribe request failed")
            status, key = 500, "fault"
        # Without a verified link there is no recipient: the browser's language alone.
        return refusal_page(chosen.words or choose_words(request, None, None), status, key)

    return run


def choose_words(request: web.Request, link: Link | None, view: ContactView | None) -> Words:
    """The page's own language links, then the recipient's country (as for the policy: the
    contact's country, else the address's ccTLD), then Accept-Language, then English."""
    words = Words(
        locale=catalog().choose(
            explicit=request.query.get("lang", ""),
            address=link.address if link else "",
            country=view.country if view else None,
            accept=request.headers.get("Accept-Language", ""),
        ),
        catalog=catalog(),
        operator=request.app[CONTEXT].config.identity.name,
    )
    return words


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
    try:
        form = await request.post()
    except ValueError as exc:  # malformed multipart or urlencoded body
        raise Refused(400, "unreadable") from exc
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
    wanted = [scope for scope in scopes if scope in prefs.left]
    text = "; ".join(words.resubscribe_text(scope) for scope in wanted)
    evidence = proof(request, text, words.lang)
    lifted = await resubscribe(request.app[CONTEXT], link.address, wanted, evidence)
    return rejoined_notice(words, lifted, [s for s in scopes if s not in lifted])


def field_value(fields: list[tuple[str, str]], name: str) -> str:
    return next((value for key, value in fields if key == name), "")


# --- store changes ---------------------------------------------------------------------------


async def leave(
    ctx: WebContext, link: Link, scopes: Iterable[str], source: str, evidence: str
) -> None:
    await optout.leave(ctx.store, ctx.audit, link.address, scopes, source, evidence)


async def resubscribe(
    ctx: WebContext, address: str, scopes: Sequence[str], evidence: str
) -> list[str]:
    return await optout.resubscribe(ctx.store, address, scopes, SOURCE_PAGE, evidence)


def proof(request: web.Request, text: str = "", lang: str = "") -> str:
    """What shows later who asked and how (burden of proof: GDPR art. 7(1))."""
    evidence = {
        "time": iso_now(),
        "ip": request.remote or "",
        "user_agent": request.headers.get("User-Agent", ""),
    }
    if text:
        evidence |= {"form": FORM_VERSION, "text": text, "lang": lang}
    return json.dumps(evidence, ensure_ascii=False)


# --- tokens and form keys ------------------------------------------------------------------


def signing_keys(ctx: WebContext) -> list[bytes]:
    keys = ctx.config.unsubscribe.keys
    if not keys:
        log.error("unsubscribe.secret is not set: unsubscribe links cannot be checked")
        raise Refused(503, "unavailable")
    return keys


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


def csrf_value(key: bytes, token: str, purpose: str) -> str:
    message = _FORM_CONTEXT + token.encode() + b"\x00" + purpose.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def csrf_ok(keys: Sequence[bytes], token: str, purpose: str, given: str) -> bool:
    # Any current key: the page may have been rendered just before a key rotation.
    matches = [hmac.compare_digest(csrf_value(key, token, purpose), given) for key in keys]
    return any(matches)


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
