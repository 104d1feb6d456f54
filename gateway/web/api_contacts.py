"""Admin API handlers for one contact: the record, its proof, its consents, its erasure."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from gateway.addresses import AddressError, erased_key
from gateway.consent.contacts import contact_row
from gateway.consent.erasure import erasure_key
from gateway.consent.export import DECISION_LIMIT, PdfUnavailable, export_document, render_pdf
from gateway.consent.proof import moment_document, proof_document, signed
from gateway.consent.signing import SigningError
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
    whole_number,
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


async def get_export(request: web.Request, email: str | None = None) -> web.Response:
    """A person's data (GDPR art. 15) as JSON or, with `format=pdf`, a readable PDF; `email`
    when the address comes from elsewhere than the path (the dashboard's query)."""
    ctx = context(request)
    address = address_of(request.match_info["email"] if email is None else email)
    kind = request.query.get("format", "json")
    if kind not in ("json", "pdf"):
        raise ApiError(400, "format must be json or pdf")
    limit = request.query.get("limit", "")
    cap = whole_number(limit, "limit", high=DECISION_LIMIT) if limit else DECISION_LIMIT
    document = await export_document(ctx.store, ctx.config, address, cap)
    if document is None:
        raise ApiError(404, f"nothing is held about {address}")
    if kind == "json":
        return web.json_response(document, dumps=export_json)
    try:
        pdf = render_pdf(document)
    except PdfUnavailable as exc:
        raise ApiError(503, str(exc)) from exc
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{download_name(address)}.pdf"'},
    )


def export_json(document: object) -> str:
    return json.dumps(document, ensure_ascii=False)


def download_name(address: str) -> str:
    """A file name from the address with nothing a header or a file system would choke on."""
    return "data-" + "".join(c if c.isalnum() or c in ".-_" else "_" for c in address)[:120]


async def get_decision_proof(request: web.Request) -> web.Response:
    """What was true for the recipient when decision N was taken, as one signed document."""
    ctx = context(request)
    seq = whole_number(request.match_info["seq"], "decision number", low=1)
    document = await moment_document(ctx.store, ctx.config, seq)
    if document is None:
        raise ApiError(404, f"there is no decision number {seq}")
    try:
        return web.json_response(signed(document, ctx.config), dumps=export_json)
    except SigningError as exc:
        raise ApiError(503, f"cannot sign: {exc}") from exc


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
