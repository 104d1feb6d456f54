"""The admin API's OpenAPI 3 description, served at /api/v1/openapi.json without a token."""

from __future__ import annotations

from typing import Any

from gateway.consent.decision_filters import FILTERS
from gateway.consent.export import DECISION_LIMIT
from gateway.web.api_contacts import CONTACT_FIELDS
from gateway.web.api_request import PAGE_DEFAULT, PAGE_MAX, PREFIX


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Gatekeeper admin API", "version": "1"},
        "servers": [{"url": PREFIX}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": obj("error", required=("error",))},
        },
        "paths": contact_paths() | list_paths(),
    }


def contact_paths() -> dict[str, Any]:
    email = param("email", "path", "Address (any case; stored canonical)")
    topic = param("topic", "path", "Consent topic, e.g. newsletter or marketing")
    return {
        "/contacts/{email}": {
            "parameters": [email],
            "get": op("A contact: consents, relationships, suppressions"),
            "put": op(
                "Create or update a contact (fields as the CSV import columns)",
                request_body=obj(*CONTACT_FIELDS),
                created=True,
            ),
            "delete": op("Erase the address (GDPR art. 17), keeping a keyed hash suppressed"),
        },
        "/contacts/{email}/proof": {
            "parameters": [email],
            "get": op("Full consent history with proof"),
        },
        "/contacts/{email}/export": {
            "parameters": [email],
            "get": op(
                "Everything held about the address (GDPR art. 15): JSON, or a readable PDF "
                "(docs/data-requests.md)",
                params=[
                    param("format", "query", "json (default) or pdf", False),
                    param("limit", "query", f"newest decisions listed, 0..{DECISION_LIMIT}", False),
                ],
            ),
        },
        "/contacts/{email}/consents": {
            "parameters": [email],
            "post": op(
                "Grant consent for a topic; proof is required",
                request_body=obj("topic", "proof", "source", "at", required=("topic", "proof")),
                created=True,
            ),
        },
        "/contacts/{email}/consents/{topic}/confirm": {
            "parameters": [email, topic],
            "post": op("Record the double opt-in confirmation", request_body=obj("at", "source")),
        },
        "/contacts/{email}/consents/{topic}/withdraw": {
            "parameters": [email, topic],
            "post": op("Withdraw a consent", request_body=obj("at", "source", "proof")),
        },
    }


def list_paths() -> dict[str, Any]:
    email = param("email", "path", "Address (any case; stored canonical)")
    decision_params = [
        param(name, "query", f"Filter as `gatekeeper log --{name}`", False) for name in FILTERS
    ]
    decision_params += [
        param("limit", "query", f"1..{PAGE_MAX}, default {PAGE_DEFAULT}", False),
        param("cursor", "query", "next_cursor of the previous page", False),
        param("order", "query", "desc (default, newest first) or asc", False),
    ]
    return {
        "/suppressions": {
            "get": op(
                "Suppressions ordered by address",
                params=[
                    param("email", "query", "Only this address", False),
                    param("limit", "query", f"1..{PAGE_MAX}", False),
                    param("cursor", "query", "next_cursor of the previous page", False),
                ],
            ),
            "post": op(
                "Suppress an address for a scope",
                request_body=obj("email", "scope", "reason", "source", required=("email",)),
                created=True,
            ),
        },
        "/suppressions/{email}": {
            "parameters": [email],
            "delete": op(
                "Lift suppressions", params=[param("scope", "query", "Only this scope", False)]
            ),
        },
        "/decisions": {"get": op("Decisions, newest first, keyset paged", params=decision_params)},
        "/decisions/{seq}/proof": {
            "parameters": [param("seq", "path", "The decision's number (a next_cursor value)")],
            "get": op(
                "What was true for the recipient when the decision was taken, signed with "
                "log.signing_key_file (Ed25519; docs/data-requests.md)"
            ),
        },
        "/stats": {
            "get": op(
                "Decision counts by action, reason, purpose, jurisdiction, phase; queue size",
                params=[param("since", "query", "ISO time or 2h, 7d", False)],
            )
        },
    }


def param(name: str, where: str, description: str, required: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "description": description,
        "schema": {"type": "string"},
    }


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
    for status, text in (
        ("400", "Bad request"),
        ("401", "No or wrong token"),
        ("404", "Not found"),
        ("409", "Conflict (e.g. an erased address)"),
        ("503", "API disabled: no http.admin_token"),
    ):
        responses[status] = {"description": text, "content": error_ref}
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if request_body is not None:
        operation["requestBody"] = {"content": {"application/json": {"schema": request_body}}}
    if params:
        operation["parameters"] = params
    return operation
