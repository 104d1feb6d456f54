"""Admin API handlers for one contact: the record, its proof, its consents, its erasure."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from gateway.addresses import AddressError
from gateway.consent.contacts import contact_row
from gateway.consent.erasure import erased_key, erasure_key
from gateway.consent.proof import proof_document
from gateway.store.records import ConsentEvent
from gateway.web.api_request import (
    ApiError,
    address_of,
    body,
    contact_json,
    context,
    existing,
    refuse_erased,
    scope_of,
    text_field,
    time_field,
)

CONTACT_FIELDS = (
    "country",
    "source",
    "last_engaged_at",
    "customer_kind",
    "last_purchase_at",
    "purchase_categories",
    "objected_scopes",
)


async def get_contact(request: web.Request) -> web.Response:
    ctx = context(request)
    return web.json_response(
        contact_json(await existing(ctx, address_of(request.match_info["email"])))
    )


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
        raise ApiError(
            400, f"unknown field(s) {', '.join(unknown)}; known: {', '.join(CONTACT_FIELDS)}"
        )
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
        address,
        topic,
        "grant",
        time_field(data, "at"),
        text_field(data, "source", "api"),
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
        address,
        topic,
        kind,
        time_field(data, "at"),
        text_field(data, "source", "api"),
        json.dumps(evidence, ensure_ascii=False) if evidence else "",
    )
    await ctx.store.record_consent([event])
    return web.json_response(contact_json(await existing(ctx, address)))
