"""Text over HTTP that no store can keep, or that is not what a secret is made of.

A header's bytes that are not UTF-8 reach the handlers as lone surrogates (aiohttp decodes
with surrogateescape), and so do JSON's unpaired `\\ud800` escapes (gateway/web/jsontext.py).
A recipient's one-click unsubscribe from such a browser failed with a 500 (its User-Agent
went into the proof), and so did a bearer token or a form's CSRF key that is not ASCII
(`hmac.compare_digest` takes only ASCII text; gateway/web/compare.py), and so did a form
in a charset Python does not know or with a multipart field that is not UTF-8 on pages that
did not catch it (gateway/web/forms.py), and so did a dashboard cookie of such bytes (the
HMAC over it could not encode it). Each is now kept escaped, or refused with a 4xx.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from gateway.web import jsontext
from gateway.web.api_request import ApiError
from gateway.web.ops_contacts import queue_cursor
from gateway.web.ops_events import read_cursor
from tests.hostile.http import TOKEN, call, raw_request
from tests.support.hooks import basic, payload, post
from tests.support.ops_pages import client, sign_in
from tests.support.seed import seed_contact
from tests.support.unsubscribe import ADDRESS, SECRET, token_for

LONE = "x\udcff"
"""A low surrogate with no high one before it: valid JSON grammar, not text."""


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/contacts/ann@example.com/consents", {"topic": "news", "proof": {"t": LONE}}),
        ("POST", "/suppressions", {"email": "bob@example.org", "source": LONE}),
        ("PUT", "/contacts/ann@example.com", {"country": "IE", LONE: "key"}),
    ],
)
async def test_api_json_holding_a_lone_surrogate_is_a_400(
    upstream, gateway_factory, method, path, body
):
    gw = await gateway_factory(upstream.url, http={"admin_token": TOKEN})
    status, reply = await call(gw.http_port, method, path, json.dumps(body).encode())
    assert status == 400 and "not valid JSON" in reply["error"], reply
    assert await gw.store.suppressions() == []


async def test_api_json_nested_past_the_recursion_limit_is_a_400(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, http={"admin_token": TOKEN})
    status, reply = await call(gw.http_port, "POST", "/suppressions", b"[" * 50_000)
    assert status == 400 and "not valid JSON" in reply["error"], reply


async def test_api_json_of_a_surrogate_pair_is_text(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, http={"admin_token": TOKEN})
    body = json.dumps({"topic": "news", "proof": {"text": "\U0001f600"}}).encode()
    assert b"\\ud83d\\ude00" in body  # the pair as JSON escapes it
    status, _ = await call(gw.http_port, "POST", "/contacts/ann@example.com/consents", body)
    assert status == 201
    status, proof = await call(gw.http_port, "GET", "/contacts/ann@example.com/proof", b"")
    assert "\U0001f600" in proof["history"][0]["proof"]


async def test_a_webhook_holding_a_lone_surrogate_is_a_400(upstream, gateway_factory):
    user, password = "postmark", "correct horse battery staple"
    gw = await gateway_factory(
        upstream.url, hooks={"postmark_username": user, "postmark_password": password}
    )
    bounce = {**payload("postmark_bounce.json"), "Description": LONE}
    status, _ = await post(
        gw.http_port, "postmark", json.dumps(bounce).encode(), basic(user, password)
    )
    assert status == 400


def test_an_ops_page_cursor_holding_a_lone_surrogate_is_a_400():
    for read, keys in ((queue_cursor, [1.0, "q1", LONE]), (read_cursor, ["2026-12-03", LONE])):
        with pytest.raises(ApiError) as refused:
            read(jsontext.cursor(keys))
        assert refused.value.status == 400


async def test_one_click_from_a_browser_whose_user_agent_is_not_utf8_is_recorded(
    upstream, gateway_factory
):
    gw = await gateway_factory(upstream.url, unsubscribe={"secret": [SECRET]})
    await seed_contact(gw.store, ADDRESS, "newsletter")
    status = await raw_request(
        gw.http_port,
        "POST",
        f"/u/{token_for('newsletter')}",
        b"Content-Type: application/x-www-form-urlencoded\r\nUser-Agent: Mail\xffReader\r\n",
        urlencode({"List-Unsubscribe": "One-Click"}).encode(),
    )
    assert status == 200
    [entry] = await gw.store.suppressions(ADDRESS)
    assert entry.reason == "unsubscribed"
    [event] = [e for e in (await gw.store.contact(ADDRESS)).events if e.kind == "unsubscribe"]
    assert json.loads(event.proof)["user_agent"] == "Mail\\xffReader"


async def test_a_bearer_token_that_is_not_utf8_is_a_401(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, http={"admin_token": TOKEN, "metrics_token": TOKEN})
    for path in ("/api/v1/decisions", "/metrics"):
        status = await raw_request(gw.http_port, "GET", path, b"Authorization: Bearer \xff\r\n")
        assert status == 401, path


async def test_a_csrf_key_that_is_not_ascii_is_a_403(upstream, gateway_factory):
    gw = await gateway_factory(
        upstream.url, unsubscribe={"secret": [SECRET]}, http={"admin_token": TOKEN}
    )
    await seed_contact(gw.store, ADDRESS, "newsletter")
    base, key = f"http://127.0.0.1:{gw.http_port}", "\u00e9" * 64
    async with client() as http:
        form = {"action": "leave", "scope": "newsletter", "csrf": key}
        async with http.post(f"{base}/u/{token_for('newsletter')}", data=form) as reply:
            assert reply.status == 403
        async with http.get(f"{base}/ops/login"):
            pass  # the sign-in form's nonce cookie
        login = {"csrf": key, "name": "", "secret": TOKEN}
        async with http.post(f"{base}/ops/login", data=login, allow_redirects=False) as reply:
            assert reply.status == 403
        await sign_in(http, base, TOKEN)
        async with http.post(f"{base}/ops/logout", data={"csrf": key}) as reply:
            assert reply.status == 403
    assert await gw.store.suppressions(ADDRESS) == []


MULTIPART = b"Content-Type: multipart/form-data; boundary=B\r\n"
NOT_UTF8_FIELD = b'--B\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n\xff\xfe\r\n--B--\r\n'


async def test_a_form_that_cannot_be_read_is_a_400(upstream, gateway_factory):
    """A charset Python does not know (LookupError) or a multipart field that is not UTF-8,
    on the recipient's page and on the dashboard's sign-in (gateway/web/forms.py)."""
    gw = await gateway_factory(
        upstream.url, unsubscribe={"secret": [SECRET]}, http={"admin_token": TOKEN}
    )
    await seed_contact(gw.store, ADDRESS, "newsletter")
    one_click = urlencode({"List-Unsubscribe": "One-Click"}).encode()
    page = f"/u/{token_for('newsletter')}"
    bogus = b"Content-Type: application/x-www-form-urlencoded; charset=bogus-x\r\n"
    assert await raw_request(gw.http_port, "POST", page, bogus, one_click) == 400
    assert await raw_request(gw.http_port, "POST", "/ops/login", MULTIPART, NOT_UTF8_FIELD) == 400
    assert await gw.store.suppressions(ADDRESS) == []


async def test_a_dashboard_cookie_that_is_not_utf8_is_no_cookie(upstream, gateway_factory):
    """Signed out (303 to the sign-in), and the sign-in form expired (403), not a 500."""
    gw = await gateway_factory(upstream.url, http={"admin_token": TOKEN})
    session = b"Cookie: gk_ops=\xff.0123\r\n"
    assert await raw_request(gw.http_port, "GET", "/ops/", session) == 303
    login = b"Cookie: gk_ops_login=\xff\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    form = urlencode({"csrf": "0" * 64, "name": "", "secret": TOKEN}).encode()
    assert await raw_request(gw.http_port, "POST", "/ops/login", login, form) == 403
