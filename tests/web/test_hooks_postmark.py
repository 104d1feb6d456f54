"""`POST /hooks/postmark`: Postmark's documented bounce and spam-complaint webhooks, behind
HTTP basic auth, suppress as a bounce or complaint by mail would; no or wrong credentials
and a replayed record change nothing (docs/design.md §8)."""

from __future__ import annotations

import json
from typing import Any

from tests.support.hooks import basic, payload, post, reasons, report_rows
from tests.support.servers import Upstream

USER, PASSWORD = "postmark", "correct horse battery staple"


async def start(gateway_factory: Any, upstream: Upstream) -> Any:
    hooks = {"postmark_username": USER, "postmark_password": PASSWORD}
    return await gateway_factory(upstream.url, hooks=hooks)


async def test_documented_bounce_and_complaint_suppress(
    gateway_factory: Any, upstream: Upstream
) -> None:
    gw = await start(gateway_factory, upstream)
    bounce = json.dumps(payload("postmark_bounce.json")).encode()
    complaint = json.dumps(payload("postmark_spam_complaint.json")).encode()
    assert (await post(gw.http_port, "postmark", bounce, basic(USER, PASSWORD)))[0] == 200
    assert (await post(gw.http_port, "postmark", complaint, basic(USER, PASSWORD)))[0] == 200
    assert ("all", "hard-bounce") in await reasons(gw, "john@example.com")
    assert ("all", "complaint") in await reasons(gw, "mary@example.com")
    rows = await report_rows(gw, "john@example.com")
    replayed = await post(gw.http_port, "postmark", bounce, basic(USER, PASSWORD))
    assert replayed[0] == 403
    assert await report_rows(gw, "john@example.com") == rows


async def test_no_or_wrong_credentials_change_nothing(
    gateway_factory: Any, upstream: Upstream
) -> None:
    gw = await start(gateway_factory, upstream)
    bounce = json.dumps(payload("postmark_bounce.json")).encode()
    status, _ = await post(gw.http_port, "postmark", bounce, {"Content-Type": "application/json"})
    assert status == 401
    for user, password in ((USER, "wrong"), ("someone", PASSWORD), (USER, PASSWORD + "x")):
        assert (await post(gw.http_port, "postmark", bounce, basic(user, password)))[0] == 401
    assert await reasons(gw, "john@example.com") == set()
    assert await report_rows(gw, "john@example.com") == 0
