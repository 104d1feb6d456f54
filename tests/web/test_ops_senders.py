"""/ops/senders over real HTTP (docs/ops.md): the complaint rates the store holds, the pause
the brake made, and a Resume button that lifts it as `gatekeeper senders resume` does."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from gateway.pipeline.brake import window_rates
from tests.support.ops_pages import (
    NEWS,
    client,
    csrf_of,
    marketing_refused,
    paused_gateway,
    sign_in,
)
from tests.support.waiting import wait_until


async def test_rates_match_the_store_and_resume_lifts_the_pause(
    gateway_factory: Any, upstream: Any
) -> None:
    gw = await paused_gateway(gateway_factory, upstream)
    base = f"http://127.0.0.1:{gw.http_port}"
    async with client() as http:
        for method, path in (("GET", "/ops/senders"), ("POST", "/ops/senders/resume")):
            async with http.request(
                method, f"{base}{path}", data={"domain": "shop.example"}, allow_redirects=False
            ) as reply:
                assert reply.status == 303
                assert reply.headers["Location"].startswith("/ops/login")

        await sign_in(http, base)
        async with http.get(f"{base}/ops/senders") as reply:
            assert reply.status == 200
            assert reply.headers["Content-Security-Policy"].startswith("default-src 'none'")
            page = await reply.text()
        pauses = {p.domain: p for p in await gw.store.sender_pauses()}
        rate = (await window_rates(gw.store, pauses, datetime.now(UTC)))["shop.example"]
        assert (rate.delivered, rate.complaints) == (3, 1)
        assert (
            f"<tr><td>shop.example</td><td>{rate.delivered}</td><td>{rate.complaints}</td>"
            f'<td><span class="deny">{rate.rate:.3%} (above pause rate)</span></td>'
            f"<td>{rate.sender_side}</td>"
        ) in page
        assert f"since {pauses['shop.example'].paused_at} at 33.333% (threshold 0.300%)" in page

        # the complaint counted is the report row the decisions filter finds
        report = {"phase": "report", "reason": "complaint"}
        async with http.get(f"{base}/ops/", params=report) as reply:
            listed = await reply.text()
        assert "<option selected>report</option>" in listed
        assert (
            "<option selected>complaint</option>" in listed and "<option>shadow</option>" in listed
        )
        assert "<option>sender-side</option>" in listed and "<option>soft-bounce</option>" in listed
        assert listed.count("<td>report</td>") == 1 and "p1@example.com" in listed

        forged = {"csrf": "0" * 64, "domain": "shop.example"}
        async with http.post(f"{base}/ops/senders/resume", data=forged) as reply:
            assert reply.status == 403
        assert [p.resumed_at for p in await gw.store.sender_pauses()] == [""]

        form = {"csrf": csrf_of(page), "domain": "shop.example"}
        async with http.post(f"{base}/ops/senders/resume", data=form) as reply:
            assert reply.status == 200 and str(reply.url).endswith("?resumed=shop.example")
            after = await reply.text()
        assert "shop.example resumed" in after and "flowing" in after
        (pause,) = await gw.store.sender_pauses()
        assert pause.resumed_at >= pause.paused_at

        brake = gw.reports.brake
        await wait_until(lambda: brake.refusal(NEWS, "marketing") is None)
        assert await asyncio.to_thread(marketing_refused, gw.smtp_port) == 250

        async with http.post(f"{base}/ops/senders/resume", data=form) as reply:
            assert reply.status == 409 and "is not paused" in await reply.text()


async def test_no_mail_no_rows(gateway_factory: Any, upstream: Any) -> None:
    gw = await gateway_factory(upstream.url, http={"admin_token": "ops-pages-token-0123456789"})
    base = f"http://127.0.0.1:{gw.http_port}"
    async with client() as http:
        await sign_in(http, base)
        async with http.get(f"{base}/ops/senders") as reply:
            page = await reply.text()
    assert "No non-transactional mail delivered or reported" in page
    assert "warning above 0.100%" in page and "pause above 0.300%" in page
