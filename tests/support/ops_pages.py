"""The ops dashboard from a test: sign in over real HTTP, read a page's CSRF value, and a
gateway whose sender domain the complaint-rate brake has paused the real way."""

from __future__ import annotations

import asyncio
import re
import smtplib
from typing import Any

import aiohttp

from tests.support.messages import MARKETING, send
from tests.support.reports import arf
from tests.support.seed import seed
from tests.support.waiting import settled, wait_until

TOKEN = "ops-pages-token-0123456789"
REPORTS = "postmaster@bounces.gw.test"
PEOPLE = ["p1@example.com", "p2@example.com", "p3@example.com"]
NEWS = "news@shop.example"


def client() -> aiohttp.ClientSession:
    # unsafe=True: aiohttp's jar drops cookies of IP-address hosts such as 127.0.0.1 otherwise
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found is not None, "no CSRF value on the page"
    return found.group(1)


async def sign_in(http: aiohttp.ClientSession, base: str, token: str = TOKEN) -> None:
    async with http.get(f"{base}/ops/login") as reply:
        csrf = csrf_of(await reply.text())
    form = {"csrf": csrf, "name": "", "secret": token}
    async with http.post(f"{base}/ops/login", data=form, allow_redirects=False) as reply:
        assert reply.status == 303


def complain(port: int, data: bytes) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo()
        smtp.mail("<>")
        smtp.rcpt(REPORTS)
        return smtp.data(data)


def marketing_refused(port: int) -> int:
    """The code p2@example.com's newsletter gets: 250 when taken."""
    try:
        send(port, ["p2@example.com"], MARKETING, sender=NEWS)
    except smtplib.SMTPRecipientsRefused as exc:
        return int(exc.recipients["p2@example.com"][0])
    return 250


async def paused_gateway(gateway_factory: Any, upstream: Any) -> Any:
    """Three newsletters delivered and one complaint: 33 % against a pause rate of 0.3 % with
    `min_volume` 3, so shop.example's marketing is paused."""
    gw = await gateway_factory(
        upstream.url,
        http={"admin_token": TOKEN},
        bounces={"address": REPORTS},
        complaints={"min_volume": 3, "pause_rate": 0.003, "warn_rate": 0.001},
        streams=[{"sender": NEWS, "purpose": "marketing", "topic": "newsletter"}],
    )
    await seed(gw.store, PEOPLE)
    await asyncio.to_thread(send, gw.smtp_port, PEOPLE, MARKETING, NEWS)
    await settled(gw)
    original = upstream.handler.messages[0].data
    code, _ = await asyncio.to_thread(complain, gw.smtp_port, arf(original, "p1@example.com"))
    assert code == 250
    brake = gw.reports.brake
    await wait_until(lambda: brake.refusal(NEWS, "marketing") is not None)
    return gw
