"""What the unsubscribe and re-subscribe pages share: refusals as pages, the person's
language, the signing keys, form keys and the proof recorded with every change."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiohttp import web

from gateway.store.records import ContactView, iso_now
from gateway.store.storable import storable_text
from gateway.web.compare import same
from gateway.web.context import CONTEXT, WebContext
from gateway.web.i18n import catalog
from gateway.web.unsubscribe_pages import Link, Words, refusal_page

log = logging.getLogger("gateway.web.unsubscribe")

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


def guarded(handler: Handler) -> Route:
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


def proof(
    request: web.Request,
    text: str = "",
    lang: str = "",
    form: str = FORM_VERSION,
    **facts: str,
) -> str:
    """What shows later who asked and how (burden of proof: GDPR art. 7(1)): the time, the
    client's address and browser, the words agreed to, and `facts` such as the request time."""
    evidence = {
        "time": iso_now(),
        "ip": request.remote or "",
        "user_agent": storable_text(request.headers.get("User-Agent", "")),
        **facts,
    }
    if text:
        evidence |= {"form": form, "text": text, "lang": lang}
    return json.dumps(evidence, ensure_ascii=False)


def signing_keys(ctx: WebContext) -> list[bytes]:
    keys = ctx.config.unsubscribe.keys
    if not keys:
        log.error("unsubscribe.secret is not set: unsubscribe links cannot be checked")
        raise Refused(503, "unavailable")
    return keys


def csrf_value(key: bytes, token: str, purpose: str) -> str:
    message = _FORM_CONTEXT + token.encode() + b"\x00" + purpose.encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def csrf_ok(keys: Sequence[bytes], token: str, purpose: str, given: str) -> bool:
    # Any current key: the page may have been rendered just before a key rotation.
    matches = [same(csrf_value(key, token, purpose), given) for key in keys]
    return any(matches)
