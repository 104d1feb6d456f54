"""What every admin API handler shares: the bearer check, JSON errors, reading a request.

Under /api/ every answer is JSON, errors included, so scripts never parse HTML.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from gateway.addresses import AddressError, canonical, check, erased_key
from gateway.consent.contacts import check_scope
from gateway.consent.decision_filters import FILTERS, decision_query
from gateway.consent.erasure import erasure_key
from gateway.consent.proof import proof_document
from gateway.store.records import ContactView, DecisionQuery
from gateway.timefmt import iso_now, normalise_time
from gateway.web import jsontext
from gateway.web.compare import bearer_matches
from gateway.web.context import CONTEXT, WebContext
from gateway.web.deadline import body_deadline

log = logging.getLogger("gateway.web.api")

PREFIX = "/api/v1"
PAGE_DEFAULT, PAGE_MAX = 100, 1000
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
INT_MAX = 2**63 - 1
"""The largest integer both stores hold (SQLite INTEGER, PostgreSQL BIGINT): a cursor beyond
it would overflow in the driver (a 500) instead of being refused."""
_DIGITS = re.compile(r"[0-9]{1,19}")
"""ASCII digits only: str.isdigit() and int() also take "²" or "٣"."""


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Under /api/ every outcome is JSON, and nothing runs before the token is checked."""
    if not request.path.startswith("/api/"):
        return await handler(request)
    try:
        if request.path != PREFIX + "/openapi.json":
            authorize(request)
        return await handler(request)
    except ApiError as exc:
        return error(exc.status, str(exc))
    except web.HTTPException as exc:  # 404/405 from the router, 413 from reading the body
        return error(exc.status, exc.reason)
    except Exception:
        log.exception("API request %s %s failed", request.method, request.path)
        return error(500, "internal error; see the gateway log")


def authorize(request: web.Request) -> None:
    token = request.app[CONTEXT].config.http.admin_token
    if not token:
        raise ApiError(503, "the API is disabled: set http.admin_token to enable it")
    if not bearer_matches(request, token):
        raise ApiError(401, "missing or wrong bearer token")


def context(request: web.Request) -> WebContext:
    return request.app[CONTEXT]


def address_of(value: str) -> str:
    try:
        return canonical(check(value))
    except AddressError as exc:
        raise ApiError(400, f"bad address: {exc}") from exc


async def body(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    if optional and not request.can_read_body:
        return {}
    if request.content_type != "application/json":
        raise ApiError(415, "send the body as application/json")
    async with body_deadline(request):
        raw = await request.read()
    try:
        data = jsontext.loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"body is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "body must be a JSON object")
    return data


def text_field(data: Mapping[str, Any], name: str, default: str = "") -> str:
    value = data.get(name, default)
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string")
    return value


def time_field(data: Mapping[str, Any], name: str) -> str:
    value = text_field(data, name)
    try:
        return normalise_time(value) if value else iso_now()
    except ValueError as exc:
        raise ApiError(400, f"{name} is not an ISO 8601 time") from exc


def scope_of(value: str) -> str:
    try:
        return check_scope(value)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc


def page_size(query: Mapping[str, str]) -> int:
    return whole_number(query.get("limit", str(PAGE_DEFAULT)), "limit", low=1, high=PAGE_MAX)


def filters(query: Mapping[str, str]) -> DecisionQuery:
    """The `gatekeeper log` filters, read from a query string (same parsing, same meaning)."""
    unknown = set(query) - {*FILTERS, "limit", "cursor", "order"}
    if unknown:
        raise ApiError(400, f"unknown parameter(s) {', '.join(sorted(unknown))}")
    if any("\x00" in value for value in query.values()):  # `%00`: PostgreSQL's text has none
        raise ApiError(400, "a parameter holds NUL (%00), which no stored value does")
    try:
        return decision_query(query, prefix="")
    except ValueError as exc:
        raise ApiError(400, f"bad time: {exc}") from exc


async def existing(ctx: WebContext, address: str) -> ContactView:
    view = await ctx.store.contact(address)
    if view is None:
        raise ApiError(404, f"nothing is known about {address}")
    return view


async def refuse_erased(ctx: WebContext, address: str) -> None:
    """An erased address must not come back in clear through the API (GDPR art. 17)."""
    hashed = erased_key(await erasure_key(ctx.store, ctx.config), address)
    if any(s.reason == "erased" for s in await ctx.store.suppressions(hashed)):
        raise ApiError(409, f"{address} was erased; it stays suppressed and cannot be stored")


def contact_json(view: ContactView) -> dict[str, Any]:
    document = proof_document(view)
    document.pop("history")
    return document


def whole_number(value: str, name: str, *, low: int = 0, high: int = INT_MAX) -> int:
    """A non-negative decimal integer from a query or path, or a 400 naming the parameter."""
    if not _DIGITS.fullmatch(value) or not low <= int(value) <= high:
        raise ApiError(400, f"{name} must be a whole number from {low} to {high}, not {value!r}")
    return int(value)
