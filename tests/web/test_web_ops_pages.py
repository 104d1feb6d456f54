"""Dashboard pages over real HTTP: a decision shows the consents as they stood when it was
made, the contact page as they stand now."""

from __future__ import annotations

import asyncio
import re
import smtplib
from typing import Any

import aiohttp

from gateway.store.records import ConsentEvent, DecisionQuery
from tests.support.messages import MARKETING
from tests.support.seed import seed

TOKEN = "ops-pages-token-0123456789"
LATER = "2099-01-01T00:00:00.000Z"


async def sign_in(http: aiohttp.ClientSession, base: str) -> None:
    async with http.get(f"{base}/ops/login") as reply:
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', await reply.text())
    assert csrf is not None
    form = {"csrf": csrf.group(1), "name": "", "secret": TOKEN}
    async with http.post(f"{base}/ops/login", data=form, allow_redirects=False) as reply:
        assert reply.status == 303


async def page_text(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(url) as reply:
        assert reply.status == 200
        return await reply.text()


def send(port: int) -> None:
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.sendmail("news@shop.example", ["yes@example.com"], MARKETING)


async def test_decision_shows_consent_as_it_was(gateway_factory: Any, upstream: Any) -> None:
    gw = await gateway_factory(upstream.url, http={"admin_token": TOKEN})
    await seed(gw.store, ["yes@example.com"])
    await asyncio.to_thread(send, gw.smtp_port)
    await gw.writer.flush()
    await gw.store.record_consent(
        [ConsentEvent("yes@example.com", "newsletter", "withdraw", LATER, "test", "")]
    )
    rows = await gw.store.decisions(DecisionQuery(recipient="yes@example.com", phase="data"))
    assert [d.action for _, d in rows] == ["allow"]
    base = f"http://127.0.0.1:{gw.http_port}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await sign_in(http, base)
        then = await page_text(http, f"{base}/ops/decisions/{rows[0][0]}")
        now = await page_text(http, f"{base}/ops/contacts?email=Yes@Example.com")
    assert "granted_at" in then and "withdrawn_at" not in then and ">withdraw<" not in then
    assert "withdrawn_at" in now and LATER in now


async def test_bad_filter_is_a_page_not_a_fault(gateway_factory: Any, upstream: Any) -> None:
    gw = await gateway_factory(upstream.url, http={"admin_token": TOKEN})
    base = f"http://127.0.0.1:{gw.http_port}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await sign_in(http, base)
        async with http.get(f"{base}/ops/", params={"since": "soon"}) as reply:
            assert reply.status == 400
            assert "expected a duration" in await reply.text()
        year = await page_text(http, f"{base}/ops/?since=2025")
    assert "Counts by reason since 2025-01-01T00:00:00.000Z" in year
