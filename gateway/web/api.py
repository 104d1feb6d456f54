"""Admin REST API under /api/v1 (bearer `http.admin_token`): contacts, consents, suppressions,
decisions, stats. The routes; the handlers live in api_contacts and api_lists, the shared
request handling in api_request, the OpenAPI document in openapi."""

from __future__ import annotations

from aiohttp import web

from gateway.web import api_contacts, api_lists
from gateway.web.api_request import PREFIX
from gateway.web.openapi import openapi_document


def add_routes(app: web.Application) -> None:
    routes = [
        ("GET", "/openapi.json", openapi),
        ("GET", "/contacts/{email}", api_contacts.get_contact),
        ("PUT", "/contacts/{email}", api_contacts.put_contact),
        ("DELETE", "/contacts/{email}", api_contacts.delete_contact),
        ("GET", "/contacts/{email}/proof", api_contacts.get_proof),
        ("GET", "/contacts/{email}/export", api_contacts.get_export),
        ("POST", "/contacts/{email}/consents", api_contacts.grant_consent),
        ("POST", "/contacts/{email}/consents/{topic}/confirm", api_contacts.confirm_consent),
        ("POST", "/contacts/{email}/consents/{topic}/withdraw", api_contacts.withdraw_consent),
        ("GET", "/suppressions", api_lists.list_suppressions),
        ("POST", "/suppressions", api_lists.add_suppression),
        ("DELETE", "/suppressions/{email}", api_lists.remove_suppression),
        ("GET", "/decisions", api_lists.list_decisions),
        ("GET", "/decisions/{seq}/proof", api_contacts.get_decision_proof),
        ("GET", "/stats", api_lists.stats),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, PREFIX + path, handler)


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())
