"""Admin REST API under /api/v1 (bearer `http.admin_token`): contacts, consents, suppressions,
decisions, stats. Every answer is JSON, errors included, so scripts never parse HTML."""

from __future__ import annotations

import argparse
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from gateway.addresses import AddressError, canonical, check
from gateway.cli import decision_query
from gateway.cli_consent import SUPPRESSION_REASONS
from gateway.contacts import check_scope, contact_row, normalise_time
from gateway.erasure import erased_key, erasure_key
from gateway.proof import proof_document
from gateway.store.records import (
    ConsentEvent,
    ContactView,
    DecisionQuery,
    SuppressionEntry,
    iso_now,
)
from gateway.web import CONTEXT, WebContext

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
FILTERS = (
    "since", "until", "action", "reason", "recipient", "purpose", "jurisdiction", "sender",
    "phase", "message_id",
)
CONTACT_FIELDS = (
    "country", "source", "last_engaged_at", "customer_kind", "last_purchase_at",
    "purchase_categories", "objected_scopes",
)
PAGE_DEFAULT, PAGE_MAX = 100, 1000
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def add_routes(app: web.Application) -> None:
    routes = [
        ("GET", "/openapi.json", openapi),
        ("GET", "/contacts/{email}", get_contact),
        ("PUT", "/contacts/{email}", put_contact),
        ("DELETE", "/contacts/{email}", delete_contact),
        ("GET", "/contacts/{email}/proof", get_proof),
        ("POST", "/contacts/{email}/consents", grant_consent),
        ("POST", "/contacts/{email}/consents/{topic}/confirm", confirm_consent),
        ("POST", "/contacts/{email}/consents/{topic}/withdraw", withdraw_consent),
        ("GET", "/suppressions", list_suppressions),
        ("POST", "/suppressions", add_suppression),
        ("DELETE", "/suppressions/{email}", remove_suppression),
        ("GET", "/decisions", list_decisions),
        ("GET", "/stats", stats),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, PREFIX + path, handler)


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
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
        raise ApiError(401, "missing or wrong bearer token")


# --- request helpers ---------------------------------------------------------------------


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
    try:
        data = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError) as exc:
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


# --- contacts and consents ---------------------------------------------------------------


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


async def get_contact(request: web.Request) -> web.Response:
    ctx = context(request)
    return web.json_response(contact_json(await existing(ctx, address_of(
        request.match_info["email"]))))


async def get_proof(request: web.Request) -> web.Response:
    ctx = context(request)
    view = await existing(ctx, address_of(request.match_info["email"]))
    return web.json_response(proof_document(view))


async def put_contact(request: web.Request) -> web.Response:
    """Upsert through the import path, so API and CSV rows are checked by the same rules."""
    ctx = context(request)
    email = request.match_info["email"]
    address = address_of(email)
    data = await body(request)
    unknown = sorted(set(data) - set(CONTACT_FIELDS))
    if unknown:
        raise ApiError(400, f"unknown field(s) {', '.join(unknown)}; known: "
                            f"{', '.join(CONTACT_FIELDS)}")
    record: dict[str, str | None] = {"email": email}
    record |= {k: csv_text(k, v) for k, v in data.items()}
    record.setdefault("source", "api")
    await refuse_erased(ctx, address)
    try:
        row = contact_row(0, record)
    except (ValueError, AddressError) as exc:
        raise ApiError(400, str(exc)) from exc
    counts = await ctx.store.import_contacts([row])
    view = await existing(ctx, address)
    return web.json_response(contact_json(view), status=201 if counts.contacts_new else 200)


def csv_text(name: str, value: Any) -> str:
    """A JSON value as the CSV column text the row checks expect (lists joined by `;`)."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ";".join(value)
    if isinstance(value, str) or value is None:
        return value or ""
    raise ApiError(400, f"{name} must be a string or a list of strings")


async def delete_contact(request: web.Request) -> web.Response:
    ctx = context(request)
    address = address_of(request.match_info["email"])
    hashed = erased_key(await erasure_key(ctx.store, ctx.config), address)
    touched = await ctx.store.forget(address, hashed)
    return web.json_response({"erased": True, "suppressed_as": hashed, "rows": touched})


async def grant_consent(request: web.Request) -> web.Response:
    ctx = context(request)
    address = address_of(request.match_info["email"])
    data = await body(request)
    topic = scope_of(text_field(data, "topic"))
    evidence = data.get("proof")
    if not isinstance(evidence, dict) or not evidence:
        raise ApiError(400, "proof is required: an object such as {ip, user_agent, form, text}")
    await refuse_erased(ctx, address)
    event = ConsentEvent(
        address, topic, "grant", time_field(data, "at"), text_field(data, "source", "api"),
        json.dumps(evidence, ensure_ascii=False),
    )
    await ctx.store.record_consent([event])
    return web.json_response(contact_json(await existing(ctx, address)), status=201)


async def confirm_consent(request: web.Request) -> web.Response:
    return await change_consent(request, "confirm")


async def withdraw_consent(request: web.Request) -> web.Response:
    return await change_consent(request, "withdraw")


async def change_consent(request: web.Request, kind: str) -> web.Response:
    ctx = context(request)
    address = address_of(request.match_info["email"])
    topic = scope_of(request.match_info["topic"])
    data = await body(request, optional=True)
    view = await existing(ctx, address)
    consent = next((c for c in view.consents if c["topic"] == topic), None)
    if consent is None:
        raise ApiError(404, f"{address} has no consent for {topic!r}")
    if consent.get("withdrawn_at"):
        raise ApiError(409, f"the consent for {topic!r} is already withdrawn")
    evidence = data.get("proof")
    event = ConsentEvent(
        address, topic, kind, time_field(data, "at"), text_field(data, "source", "api"),
        json.dumps(evidence, ensure_ascii=False) if evidence else "",
    )
    await ctx.store.record_consent([event])
    return web.json_response(contact_json(await existing(ctx, address)))


# --- suppressions ------------------------------------------------------------------------


async def list_suppressions(request: web.Request) -> web.Response:
    ctx = context(request)
    query = request.query
    limit = page_size(query)
    email = query.get("email")
    cursor = query.get("cursor") or None
    after = tuple(cursor.split("\t")) if cursor else None
    if after is not None and len(after) != 3:
        raise ApiError(400, "cursor: use the next_cursor of the previous page")
    entries = await ctx.store.suppressions(
        address_of(email) if email else None, limit=limit, after=after,
    )
    more = len(entries) == limit and not email
    last = entries[-1] if entries else None
    return web.json_response({
        "suppressions": [suppression_json(s) for s in entries],
        # opaque to clients; tabs appear in no address, scope or reason
        "next_cursor": "\t".join((last.address, last.scope, last.reason)) if more and last
        else None,
    })


def suppression_json(entry: SuppressionEntry) -> dict[str, str]:
    return {"email": entry.address, "scope": entry.scope, "reason": entry.reason,
            "source": entry.source, "created_at": entry.created_at}


async def add_suppression(request: web.Request) -> web.Response:
    ctx = context(request)
    data = await body(request)
    reason = text_field(data, "reason", "unsubscribed")
    if reason not in SUPPRESSION_REASONS:
        raise ApiError(400, f"reason must be one of {', '.join(SUPPRESSION_REASONS)}")
    entry = SuppressionEntry(
        address_of(text_field(data, "email")), scope_of(text_field(data, "scope", "all")),
        reason, text_field(data, "source", "api"), iso_now(),
    )
    added = await ctx.store.suppress([entry])
    return web.json_response(suppression_json(entry), status=201 if added else 200)


async def remove_suppression(request: web.Request) -> web.Response:
    ctx = context(request)
    address = address_of(request.match_info["email"])
    scope = request.query.get("scope")
    removed = await ctx.store.unsuppress(address, scope_of(scope) if scope else None)
    if not removed:
        raise ApiError(404, f"no suppression of {address} to remove")
    return web.json_response({"email": address, "removed": removed})


# --- decisions and stats -----------------------------------------------------------------


def page_size(query: Mapping[str, str]) -> int:
    try:
        limit = int(query.get("limit", PAGE_DEFAULT))
    except ValueError as exc:
        raise ApiError(400, "limit must be a number") from exc
    if not 1 <= limit <= PAGE_MAX:
        raise ApiError(400, f"limit must be between 1 and {PAGE_MAX}")
    return limit


def filters(query: Mapping[str, str]) -> DecisionQuery:
    """The `gatekeeper log` filters, read from a query string (same parsing, same meaning)."""
    unknown = set(query) - {*FILTERS, "limit", "cursor", "order"}
    if unknown:
        raise ApiError(400, f"unknown parameter(s) {', '.join(sorted(unknown))}")
    try:
        return decision_query(argparse.Namespace(**{f: query.get(f) or None for f in FILTERS}))
    except ValueError as exc:
        raise ApiError(400, f"bad time: {exc}") from exc


async def list_decisions(request: web.Request) -> web.Response:
    """Keyset pages: `next_cursor` is the last row's sequence number, never an offset."""
    query = request.query
    search = filters(query)
    limit = page_size(query)
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError(400, "order must be asc or desc")
    search.newest_first = order == "desc"
    search.limit = limit + 1
    cursor = query.get("cursor")
    if cursor:
        if not cursor.isdigit():
            raise ApiError(400, "cursor must be a next_cursor value")
        search.before, search.after = (int(cursor), None) if search.newest_first else (
            None, int(cursor))
    rows = await context(request).store.decisions(search)
    page = rows[:limit]
    return web.json_response({
        "decisions": [decision.public() for _, decision in page],
        "next_cursor": str(page[-1][0]) if len(rows) > limit else None,
    })


async def stats(request: web.Request) -> web.Response:
    ctx = context(request)
    search = filters({k: v for k, v in request.query.items() if k == "since"})
    counts = await ctx.store.decision_counts(search.since)
    return web.json_response({
        "since": search.since,
        "decisions": {column: dict(rows) for column, rows in counts.items()},
        "queue": {"recipients": len(await ctx.store.spool_list())},
    })


# --- OpenAPI -----------------------------------------------------------------------------


def openapi_document() -> dict[str, Any]:
    email = param("email", "path", "Address (any case; stored canonical)")
    topic = param("topic", "path", "Consent topic, e.g. newsletter or marketing")
    decision_params = [param(name, "query", f"Filter as `gatekeeper log --{name}`", False)
                       for name in FILTERS]
    decision_params += [param("limit", "query", f"1..{PAGE_MAX}, default {PAGE_DEFAULT}", False),
                        param("cursor", "query", "next_cursor of the previous page", False),
                        param("order", "query", "desc (default, newest first) or asc", False)]
    paths = {
        "/contacts/{email}": {
            "parameters": [email],
            "get": op("A contact: consents, relationships, suppressions"),
            "put": op("Create or update a contact (fields as the CSV import columns)",
                      request_body=obj(*CONTACT_FIELDS), created=True),
            "delete": op("Erase the address (GDPR art. 17), keeping a keyed hash suppressed"),
        },
        "/contacts/{email}/proof": {
            "parameters": [email], "get": op("Full consent history with proof")},
        "/contacts/{email}/consents": {
            "parameters": [email],
            "post": op("Grant consent for a topic; proof is required",
                       request_body=obj("topic", "proof", "source", "at",
                                        required=("topic", "proof")),
                       created=True),
        },
        "/contacts/{email}/consents/{topic}/confirm": {
            "parameters": [email, topic],
            "post": op("Record the double opt-in confirmation", request_body=obj("at", "source")),
        },
        "/contacts/{email}/consents/{topic}/withdraw": {
            "parameters": [email, topic],
            "post": op("Withdraw a consent", request_body=obj("at", "source", "proof")),
        },
        "/suppressions": {
            "get": op("Suppressions ordered by address",
                      params=[param("email", "query", "Only this address", False),
                              param("limit", "query", f"1..{PAGE_MAX}", False),
                              param("cursor", "query", "next_cursor of the previous page",
                                    False)]),
            "post": op("Suppress an address for a scope",
                       request_body=obj("email", "scope", "reason", "source", required=("email",)),
                       created=True),
        },
        "/suppressions/{email}": {
            "parameters": [email],
            "delete": op("Lift suppressions", params=[param("scope", "query",
                                                            "Only this scope", False)]),
        },
        "/decisions": {"get": op("Decisions, newest first, keyset paged",
                                 params=decision_params)},
        "/stats": {"get": op("Decision counts by action, reason, purpose, jurisdiction, "
                             "phase; queue size",
                             params=[param("since", "query", "ISO time or 2h, 7d", False)])},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Gatekeeper admin API", "version": "1"},
        "servers": [{"url": PREFIX}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": obj("error", required=("error",))},
        },
        "paths": paths,
    }


def param(name: str, where: str, description: str, required: bool = True) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": {"type": "string"}}


def obj(*names: str, required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": {n: {} for n in names}}
    if required:
        schema["required"] = list(required)
    return schema


def op(
    summary: str,
    *,
    request_body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    created: bool = False,
) -> dict[str, Any]:
    error_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    responses: dict[str, Any] = {"200": {"description": "OK"}}
    if created:
        responses["201"] = {"description": "Created"}
    for status, text in (("400", "Bad request"), ("401", "No or wrong token"),
                         ("404", "Not found"), ("409", "Conflict (e.g. an erased address)"),
                         ("503", "API disabled: no http.admin_token")):
        responses[status] = {"description": text, "content": error_ref}
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if request_body is not None:
        operation["requestBody"] = {"content": {"application/json": {"schema": request_body}}}
    if params:
        operation["parameters"] = params
    return operation
