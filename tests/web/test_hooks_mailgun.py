"""`POST /hooks/mailgun`: Mailgun's documented permanent-failure webhook suppresses the
recipient; unsigned, wrongly signed, stale and replayed requests are refused and change
nothing (docs/design.md §8)."""

from __future__ import annotations

import json
from typing import Any

from tests.support.hooks import MAILGUN_KEY, mailgun_signed, payload, post, reasons, report_rows
from tests.support.servers import Upstream

ALICE = "alice@example.com"
JSON = {"Content-Type": "application/json"}


async def start(gateway_factory: Any, upstream: Upstream) -> Any:
    return await gateway_factory(upstream.url, hooks={"mailgun_signing_key": MAILGUN_KEY})


async def test_documented_failure_suppresses_hard_bounce(
    gateway_factory: Any, upstream: Upstream
) -> None:
    gw = await start(gateway_factory, upstream)
    body = mailgun_signed(payload("mailgun_failed.json"))
    status, text = await post(gw.http_port, "mailgun", body, JSON)
    assert status == 200, text
    assert json.loads(text)["applied"][0]["outcome"] == "hard"
    assert ("all", "hard-bounce") in await reasons(gw, ALICE)
    rows = await report_rows(gw, ALICE)
    status, _ = await post(gw.http_port, "mailgun", body, JSON)  # the same token again
    assert status == 403
    assert await report_rows(gw, ALICE) == rows


async def test_unsigned_forged_and_stale_requests_change_nothing(
    gateway_factory: Any, upstream: Upstream
) -> None:
    gw = await start(gateway_factory, upstream)
    documented = payload("mailgun_failed.json")
    unsigned = json.dumps({"event-data": documented["event-data"]}).encode()
    assert (await post(gw.http_port, "mailgun", unsigned, JSON))[0] == 401
    # the documentation's own signature was made with Mailgun's key, not ours
    assert (await post(gw.http_port, "mailgun", json.dumps(documented).encode(), JSON))[0] == 403
    forged = mailgun_signed(documented, key="key-not-the-signing-key")
    assert (await post(gw.http_port, "mailgun", forged, JSON))[0] == 403
    stale = mailgun_signed(documented, age=3600)
    assert (await post(gw.http_port, "mailgun", stale, JSON))[0] == 403
    for no_moment in ("nan", "NaN", "inf", "-inf"):  # float() reads each; signed with our key
        odd = mailgun_signed(documented, timestamp=no_moment)
        assert (await post(gw.http_port, "mailgun", odd, JSON))[0] == 403, no_moment
    assert await reasons(gw, ALICE) == set()
    assert await report_rows(gw, ALICE) == 0


async def test_a_provider_not_configured_is_not_there(
    gateway_factory: Any, upstream: Upstream
) -> None:
    gw = await gateway_factory(upstream.url)
    body = mailgun_signed(payload("mailgun_failed.json"))
    assert (await post(gw.http_port, "mailgun", body, JSON))[0] == 404
