"""NUL over HTTP: a `\\u0000` escape in JSON, a `%00` in a query or in a form field.

PostgreSQL's text holds no NUL, so on that store each reached the database and failed the
request's transaction: a 500 from the admin API (a suppression's or a consent's source, the
decision filters, the suppressions cursor) and the dashboard (its filters, its page
cursors, the Resume and Retry forms), and a 503 to a provider's webhook, which retried
it for ever and whose bounce was never recorded. Each is refused where it is read
(gateway/web/jsontext.py, forms.py, api_request.filters), as a 400 on either store; these
run on the tests' SQLite store, which took them before.
"""

from __future__ import annotations

import json

from gateway.web import jsontext
from tests.hostile.http import TOKEN, api
from tests.support.hooks import basic, payload, post
from tests.support.ops_pages import client, csrf_of, sign_in

USER, PASSWORD = "postmark", "correct horse battery staple"


async def test_api_nul_in_a_body_or_a_query_is_a_400(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, http={"admin_token": TOKEN})
    port = gw.http_port
    suppress = b'{"email": "bob@example.org", "source": "x\\u0000y"}'
    assert await api(port, "POST", "/suppressions", suppress) == 400
    grant = b'{"topic": "news", "source": "x\\u0000", "proof": {"form": "f"}}'
    assert await api(port, "POST", "/contacts/ann@example.com/consents", grant) == 400
    for query in (
        "/decisions?sender=a%00b",
        "/stats?since=%002h",
        "/suppressions?cursor=a%00%09b%09c",
    ):
        assert await api(port, "GET", query) == 400, query
    assert await gw.store.suppressions() == []
    assert await gw.store.contact("ann@example.com") is None


async def test_a_webhook_holding_nul_is_a_400(upstream, gateway_factory):
    gw = await gateway_factory(
        upstream.url, hooks={"postmark_username": USER, "postmark_password": PASSWORD}
    )
    bounce = {**payload("postmark_bounce.json"), "Description": "a\u0000b"}
    status, _ = await post(
        gw.http_port, "postmark", json.dumps(bounce).encode(), basic(USER, PASSWORD)
    )
    assert status == 400
    assert await gw.store.suppressions("john@example.com") == []


async def test_the_dashboard_refuses_nul_in_filters_cursors_and_forms(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, http={"admin_token": TOKEN})
    base = f"http://127.0.0.1:{gw.http_port}"
    pages = [
        "/ops/?sender=a%00b",
        "/ops/events?before=" + jsontext.cursor(["2026-12-03", "e\u0000"]),
        "/ops/queue?after=" + jsontext.cursor([1.0, "q\u0000", "r"]),
    ]
    async with client() as http:
        await sign_in(http, base, TOKEN)
        for page in pages:
            async with http.get(base + page) as reply:
                assert reply.status == 400, page
        async with http.get(f"{base}/ops/events") as reply:
            csrf = csrf_of(await reply.text())
        for path, field in (("/ops/senders/resume", "domain"), ("/ops/events/retry", "id")):
            form = {"csrf": csrf, field: "x\u0000"}
            async with http.post(base + path, data=form, allow_redirects=False) as reply:
                assert reply.status == 400, path
