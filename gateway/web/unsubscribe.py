"""Unsubscribe endpoint (DESIGN §6): RFC 8058 one-click POST and a preference page on GET.

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
from html import escape

from aiohttp import web

from gateway import optout, tokens
from gateway.addresses import AddressError, canonical
from gateway.optout import ALL, UNSUBSCRIBED
from gateway.store.records import ContactView, iso_now
from gateway.web import CONTEXT, WebContext
from gateway.web.pages import page

log = logging.getLogger(__name__)

LEAVE = "leave"
RESUBSCRIBE = "resubscribe"
ONE_CLICK = [("List-Unsubscribe", "One-Click")]  # RFC 8058 §3.1: the whole POST body
SOURCE_ONE_CLICK = "one-click"
SOURCE_PAGE = "unsubscribe-page"
FORM_VERSION = "unsubscribe-page/1"
# Domain separation: the unsubscribe secret also signs the tokens themselves.
_FORM_CONTEXT = b"gatekeeper/unsubscribe-form\x00"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Refused(Exception):
    """A request answered with an explanatory page instead of the normal one."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


@dataclass(frozen=True, slots=True)
class Link:
    """What a verified unsubscribe URL names."""

    token: str
    address: str
    scope: str


@dataclass(frozen=True, slots=True)
class Preferences:
    subscribed: tuple[str, ...]
    """Topics with a live consent that no suppression covers: these can be left."""
    left: tuple[str, ...]
    """Scopes suppressed only because the person unsubscribed: these can be re-joined."""
    suppressed: frozenset[str]
    """Every suppressed scope, whatever the reason."""
    blocked: bool
    """Something other than an unsubscribe (bounce, complaint, erasure) stops all mail."""


def add_routes(app: web.Application) -> None:
    app.router.add_get("/u/{token}", _guarded(show_page))
    app.router.add_post("/u/{token}", _guarded(handle_post))


def _guarded(handler: Handler) -> Handler:
    """Turn refusals and faults into plain pages: a person must never see a stack trace."""

    async def run(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except Refused as refusal:
            return page(refusal.status, refusal.title, f"<p>{escape(refusal.message)}</p>")
        except web.HTTPException as exc:  # e.g. 413 from reading an oversized body
            return page(exc.status, exc.reason, "<p>The request could not be handled.</p>")
        except Exception:
            log.exception("unsubscribe request failed")
            return page(
                500,
                "Something went wrong",
                "<p>Your request could not be completed because of a fault on our side. "
                "Please try again in a few minutes.</p>",
            )

    return run


# --- handlers ------------------------------------------------------------------------------


async def show_page(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    keys = signing_keys(ctx)
    link = verified_link(ctx, keys, request.match_info["token"])
    prefs = preferences(await ctx.store.contact(link.address))
    return preference_page(ctx, keys, link, prefs, notice="")


async def handle_post(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    keys = signing_keys(ctx)
    link = verified_link(ctx, keys, request.match_info["token"])
    try:
        form = await request.post()
    except ValueError as exc:  # malformed multipart or urlencoded body
        raise Refused(400, "Request not understood", "The form could not be read.") from exc
    fields = [(name, value) for name, value in form.items() if isinstance(value, str)]
    if fields == ONE_CLICK and len(form) == 1:
        return await one_click(request, ctx, link)
    return await page_form(request, ctx, keys, link, fields)


async def one_click(request: web.Request, ctx: WebContext, link: Link) -> web.Response:
    await leave(ctx, link, [link.scope], SOURCE_ONE_CLICK, proof(request))
    sender = escape(sender_name(ctx))
    body = (
        f'<p role="status"><strong>{escape(link.address)}</strong> will not get '
        f"{escape(scope_phrase(link.scope))} from {sender} any more.</p>"
        f'<p><a href="{escape(link.token)}">Change your email choices</a></p>'
    )
    return page(200, "You are unsubscribed", body)


async def page_form(
    request: web.Request,
    ctx: WebContext,
    keys: Sequence[bytes],
    link: Link,
    fields: list[tuple[str, str]],
) -> web.Response:
    action, csrf = field_value(fields, "action"), field_value(fields, "csrf")
    if action not in (LEAVE, RESUBSCRIBE) or not csrf_ok(keys, link.token, action, csrf):
        raise Refused(
            403,
            "This form could not be checked",
            "Nothing was changed. Open the unsubscribe link in the email again and use the "
            "page it shows.",
        )
    scopes = list(dict.fromkeys(value for name, value in fields if name == "scope"))
    before = preferences(await ctx.store.contact(link.address))
    if not scopes:
        notice = "Nothing was changed: no choice was ticked."
    elif action == LEAVE:
        notice = await leave_from_page(request, ctx, link, before, scopes)
    else:
        notice = await resubscribe_from_page(request, ctx, link, before, scopes)
    after = preferences(await ctx.store.contact(link.address))
    return preference_page(ctx, keys, link, after, notice)


async def leave_from_page(
    request: web.Request, ctx: WebContext, link: Link, prefs: Preferences, scopes: list[str]
) -> str:
    offered = {link.scope, ALL, *prefs.subscribed}
    if not set(scopes) <= offered:
        raise Refused(400, "Choice not available", "That choice is not offered on this page.")
    text = "; ".join(leave_text(ctx, scope) for scope in scopes)
    await leave(ctx, link, scopes, SOURCE_PAGE, proof(request, text))
    return "Done: you will no longer get " + " or ".join(map(scope_phrase, scopes)) + "."


async def resubscribe_from_page(
    request: web.Request, ctx: WebContext, link: Link, prefs: Preferences, scopes: list[str]
) -> str:
    wanted = [scope for scope in scopes if scope in prefs.left]
    text = "; ".join(resubscribe_text(ctx, scope) for scope in wanted)
    lifted = await resubscribe(ctx, link.address, wanted, proof(request, text))
    parts = [f"Done: you will get {scope_phrase(s)} again." for s in lifted]
    refused = [s for s in scopes if s not in lifted]
    if refused:
        parts.append(
            "We cannot restore "
            + " or ".join(map(scope_phrase, refused))
            + " here; please contact the sender."
        )
    return " ".join(parts)


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


def proof(request: web.Request, text: str = "") -> str:
    """What shows later who asked and how (burden of proof: GDPR art. 7(1))."""
    evidence = {
        "time": iso_now(),
        "ip": request.remote or "",
        "user_agent": request.headers.get("User-Agent", ""),
    }
    if text:
        evidence |= {"form": FORM_VERSION, "text": text}
    return json.dumps(evidence, ensure_ascii=False)


# --- tokens and form keys ------------------------------------------------------------------


def signing_keys(ctx: WebContext) -> list[bytes]:
    keys = ctx.config.unsubscribe.keys
    if not keys:
        log.error("unsubscribe.secret is not set: unsubscribe links cannot be checked")
        raise Refused(
            503,
            "Unsubscribing is not available",
            "This service cannot check unsubscribe links at the moment. Please reply to the "
            "email or contact the sender to be removed from their list.",
        )
    return keys


def verified_link(ctx: WebContext, keys: Sequence[bytes], token: str) -> Link:
    # CASL s.11(3) wants links valid 60 days: a lower token_days must not cut that short.
    max_age = max(timedelta(days=ctx.config.unsubscribe.token_days), tokens.MIN_MAX_AGE)
    try:
        claims = tokens.verify(keys, token, datetime.now(UTC), max_age)
        return Link(token, canonical(claims.recipient), claims.scope)
    except tokens.TokenExpired as exc:
        raise Refused(
            410,
            "This link has expired",
            "Unsubscribe links stop working after a while. Use the unsubscribe link in a newer "
            "email from the sender, or contact the sender to be removed.",
        ) from exc
    except (tokens.TokenMalformed, AddressError) as exc:
        raise Refused(
            400,
            "This link is not valid",
            "The unsubscribe link is incomplete or damaged. Copy the whole link from the "
            "email, or contact the sender to be removed.",
        ) from exc


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


def sender_name(ctx: WebContext) -> str:
    return ctx.config.identity.name or "this sender"


def scope_phrase(scope: str) -> str:
    return "all emails" if scope == ALL else f"emails about “{scope}”"


def leave_text(ctx: WebContext, scope: str) -> str:
    if scope == ALL:
        return f"Stop all emails from {sender_name(ctx)} (receipts and account notices still come)"
    return f"Stop {scope_phrase(scope)}"


def resubscribe_text(ctx: WebContext, scope: str) -> str:
    return f"Send me {scope_phrase(scope)} from {sender_name(ctx)} again"


# --- HTML ----------------------------------------------------------------------------------


def preference_page(
    ctx: WebContext, keys: Sequence[bytes], link: Link, prefs: Preferences, notice: str
) -> web.Response:
    parts = [f'<p class="notice" role="status">{escape(notice)}</p>'] if notice else []
    parts.append(f"<p>These choices are for <strong>{escape(link.address)}</strong>.</p>")
    parts.append(confirm_section(ctx, keys, link, prefs))
    if ALL not in prefs.suppressed:
        parts.append(choices_form(ctx, keys, link, prefs))
    parts.append(resubscribe_section(ctx, keys, link, prefs))
    return page(200, f"Email choices from {sender_name(ctx)}", "\n".join(parts))


def confirm_section(ctx: WebContext, keys: Sequence[bytes], link: Link, prefs: Preferences) -> str:
    phrase = escape(scope_phrase(link.scope))
    if prefs.suppressed & {link.scope, ALL}:
        return f"<p>You are unsubscribed: you no longer get {phrase}.</p>"
    return (
        f'<form method="post">{hidden_fields(keys, link, LEAVE)}'
        f'<input type="hidden" name="scope" value="{escape(link.scope)}">'
        f"<p>Do you want to stop getting {phrase} from {escape(sender_name(ctx))}?</p>"
        f'<button type="submit">Yes, unsubscribe me</button></form>'
    )


def choices_form(ctx: WebContext, keys: Sequence[bytes], link: Link, prefs: Preferences) -> str:
    boxes = [
        checkbox(f"leave-{i}", topic, leave_text(ctx, topic))
        for i, topic in enumerate(prefs.subscribed)
    ]
    boxes.append(checkbox("leave-all", ALL, leave_text(ctx, ALL)))
    hint = (
        "You get emails about the topics below. Tick the ones you no longer want."
        if prefs.subscribed
        else "You can also stop all emails at once."
    )
    return (
        f'<form method="post">{hidden_fields(keys, link, LEAVE)}'
        f'<fieldset><legend>Choose what to stop</legend><p class="hint">{hint}</p>'
        + "".join(boxes)
        + '</fieldset><button type="submit" class="secondary">Save my choices</button></form>'
    )


def resubscribe_section(
    ctx: WebContext, keys: Sequence[bytes], link: Link, prefs: Preferences
) -> str:
    if prefs.blocked:
        return (
            "<p>We cannot send you email at the moment (for example because earlier messages "
            "bounced). If you want emails again, please contact the sender.</p>"
        )
    if not prefs.left:
        return ""
    boxes = [
        checkbox(f"rejoin-{i}", scope, resubscribe_text(ctx, scope))
        for i, scope in enumerate(prefs.left)
    ]
    return (
        f'<form method="post">{hidden_fields(keys, link, RESUBSCRIBE)}'
        "<fieldset><legend>Get emails again</legend>"
        '<p class="hint">Changed your mind? Tick what you want to receive again.</p>'
        + "".join(boxes)
        + '</fieldset><button type="submit" class="secondary">Subscribe again</button></form>'
    )


def hidden_fields(keys: Sequence[bytes], link: Link, purpose: str) -> str:
    return (
        f'<input type="hidden" name="action" value="{purpose}">'
        f'<input type="hidden" name="csrf" value="{csrf_value(keys[0], link.token, purpose)}">'
    )


def checkbox(element_id: str, value: str, text: str) -> str:
    return (
        f'<div class="choice"><input type="checkbox" id="{element_id}" name="scope" '
        f'value="{escape(value)}"><label for="{element_id}">{escape(text)}</label></div>'
    )
