"""Getting mail again from an unsubscribe page: a double opt-in (issue 11).

An unsubscribe link is forwarded along with the mail it came in, so whoever holds it is not
necessarily the recipient. Asking for mail again from the page therefore only records the
request and mails the address a confirmation link (a token of its own context, valid for
CONFIRM_HOURS); the consent is recorded when that link's page is confirmed, with that
click's proof. Unsubscribing never waits for anything.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from html import escape
from urllib.parse import quote

from aiohttp import web

from gateway.addresses import AddressError, canonical
from gateway.consent import tokens
from gateway.pipeline import optout
from gateway.web.context import CONTEXT
from gateway.web.forms import read_form
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
from gateway.web.unsubscribe_pages import Link, Words, respond, strong

CONFIRM_HOURS = 48
"""How long a confirmation link works: long enough to find the mail, short enough that an
old one in a mailbox is no standing way back in."""
RESEND_SECONDS = 600.0
"""One confirmation mail per address in this time, however often the page is sent: a
forwarded link must not become a way to flood the recipient."""
REMEMBERED = 10_000
SOURCE = "unsubscribe-page"
SOURCE_CONFIRMED = "confirmation-link"
CONFIRM = "confirm-resubscribe"
CONFIRM_FORM_VERSION = "resubscribe-confirm/1"
_SENT: web.AppKey[OrderedDict[str, float]] = web.AppKey("gatekeeper-resubscribe-sent")


def add_routes(app: web.Application) -> None:
    app[_SENT] = OrderedDict()
    app.router.add_get("/u/confirm/{token}", guarded(show_confirmation))
    app.router.add_post("/u/confirm/{token}", guarded(confirm))


async def request_confirmation(
    request: web.Request, words: Words, link: Link, scopes: Sequence[str]
) -> str:
    """Record the request, mail the address its confirmation link; the notice to show."""
    ctx = request.app[CONTEXT]
    sent, now = request.app[_SENT], time.monotonic()
    if now - sent.get(link.address, -RESEND_SECONDS) < RESEND_SECONDS:
        return words.text("notice_confirm_pending", address=link.address)
    if ctx.writer is None:
        raise Refused(503, "unavailable")
    text = "; ".join(words.resubscribe_text(scope) for scope in scopes)
    await optout.request_resubscribe(
        ctx.store, link.address, scopes, SOURCE, proof(request, text, words.lang)
    )
    token = tokens.issue(
        signing_keys(ctx),
        link.address,
        " ".join(scopes),
        datetime.now(UTC),
        context=tokens.CONFIRM_CONTEXT,
    )
    url = f"{ctx.config.http.public_url.rstrip('/')}/u/confirm/{token}?lang={quote(words.lang)}"
    body = words.text(
        "confirm_mail_body",
        address=link.address,
        scopes=words.scopes(scopes, negative=False),
        sender=words.sender,
        url=url,
        hours=str(CONFIRM_HOURS),
    )
    sender = (words.sender, f"no-reply@{ctx.hostname}")
    subject = words.text("confirm_mail_subject", sender=words.sender)
    await ctx.writer.spool(
        optout.confirmation_message(link.address, sender, subject, body, ctx.hostname)
    )
    sent[link.address] = now
    sent.move_to_end(link.address)
    while len(sent) > REMEMBERED:
        sent.popitem(last=False)
    return words.text(
        "notice_confirm_sent",
        address=link.address,
        scopes=words.scopes(scopes, negative=False),
    )


def confirmation(request: web.Request) -> tuple[Link, datetime]:
    """The link's address and scopes, and when they were asked for; refusals as pages."""
    ctx = request.app[CONTEXT]
    token = request.match_info["token"]
    try:
        claims = tokens.verify(
            signing_keys(ctx),
            token,
            datetime.now(UTC),
            timedelta(hours=CONFIRM_HOURS),
            context=tokens.CONFIRM_CONTEXT,
        )
        return Link(token, canonical(claims.recipient), claims.scope), claims.issued_at
    except tokens.TokenExpired as exc:
        raise Refused(410, "confirm_expired") from exc
    except (tokens.TokenMalformed, AddressError) as exc:
        raise Refused(400, "invalid") from exc


async def show_confirmation(request: web.Request, chosen: Chosen) -> web.StreamResponse:
    """A GET changes nothing (mail scanners open links): the page asks for the click."""
    link, _ = confirmation(request)
    words = chosen.words = choose_words(request, link, None)
    key = signing_keys(request.app[CONTEXT])[0]
    scopes = link.scope.split()
    question = words.html(
        "rejoin_confirm_question",
        scopes=words.scopes(scopes, negative=False),
        sender=words.sender,
        address=strong(link.address),
    )
    body = (
        f'<form method="post"><input type="hidden" name="csrf" '
        f'value="{escape(csrf_value(key, link.token, CONFIRM))}"><p>{question}</p>'
        f'<button type="submit">{words.html("rejoin_confirm_button")}</button></form>'
    )
    return respond(words, 200, words.text("rejoin_confirm_title"), body)


async def confirm(request: web.Request, chosen: Chosen) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    link, requested = confirmation(request)
    words = chosen.words = choose_words(request, link, None)
    form = await read_form(request)  # unreadable: a 400 page (guarded)
    if not csrf_ok(signing_keys(ctx), link.token, CONFIRM, str(form.get("csrf", ""))):
        raise Refused(403, "csrf")
    scopes = link.scope.split()
    text = "; ".join(words.resubscribe_text(scope) for scope in scopes)
    evidence = proof(
        request,
        text,
        words.lang,
        CONFIRM_FORM_VERSION,
        requested_at=requested.isoformat(),
        confirmed_by="link mailed to the address",
    )
    lifted = await optout.confirm_resubscribe(
        ctx.store, link.address, scopes, SOURCE_CONFIRMED, evidence
    )
    parts = []
    if lifted:
        parts.append(
            words.html(
                "rejoin_confirmed_body",
                address=strong(link.address),
                scopes=words.scopes(lifted, negative=False),
                sender=words.sender,
            )
        )
    rest = [scope for scope in scopes if scope not in lifted]
    if rest:
        parts.append(words.html("notice_cannot_restore", scopes=words.scopes(rest, negative=False)))
    body = f'<p role="status">{" ".join(parts)}</p>'
    return respond(words, 200, words.text("rejoin_confirmed_title"), body)
