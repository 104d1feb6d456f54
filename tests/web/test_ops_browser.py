"""The ops dashboard in a real browser (Debian's chromium via Playwright), and its sign-in."""

from __future__ import annotations

import asyncio
import re
import smtplib
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import expect

from gateway.passwords import hash_password
from tests.support.messages import MARKETING
from tests.support.seed import seed

TOKEN = "ops-token-for-tests-0123456789"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def send_marketing(port: int) -> None:
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.sendmail("news@shop.example", ["yes@example.com", "no@example.com"], MARKETING)


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"ops-{name}.png"), full_page=True)


async def test_sign_in_filter_and_open_a_decision(
    gateway_factory: Any, upstream: Any, browser: Any
) -> None:
    gw = await gateway_factory(upstream.url, http={"admin_token": TOKEN})
    await seed(gw.store, ["yes@example.com"])
    await asyncio.to_thread(send_marketing, gw.smtp_port)
    await asyncio.to_thread(upstream.handler.wait_for, 1)
    await gw.writer.flush()
    base = f"http://127.0.0.1:{gw.http_port}"

    page = await browser.new_page()
    await page.goto(f"{base}/ops/queue")
    assert re.search(r"/ops/login\?next=%2Fops%2Fqueue$", page.url)
    await shot(page, "login")
    await page.get_by_label("Password or admin token").fill(TOKEN)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Queue")).to_be_visible()

    await page.goto(f"{base}/ops/")
    await expect(page.get_by_role("img")).to_have_attribute(
        "aria-label", re.compile(r"1 allowed and 1 refused")
    )
    await shot(page, "decisions")
    await page.get_by_label("Reason").select_option("no-consent")
    await page.get_by_role("button", name="Filter").click()
    rows = page.locator("table").last.locator("tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("no@example.com")
    await shot(page, "filtered")
    await rows.first.get_by_role("link", name="details").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Decision")
    await expect(page.locator("dl")).to_contain_text("eu.marketing")
    await expect(page.locator("dl")).to_contain_text("GDPR")
    await shot(page, "decision")

    await page.get_by_role("button", name=re.compile("Sign out")).click()
    await page.goto(f"{base}/ops/")
    assert "/ops/login" in page.url


async def test_ops_users_csrf_and_disabled(gateway_factory: Any, upstream: Any) -> None:
    users = [{"name": "dpo", "password_hash": hash_password("s3cret pass", "scrypt")}]
    gw = await gateway_factory(upstream.url, http={"admin_token": TOKEN, "users": users})
    base = f"http://127.0.0.1:{gw.http_port}"
    # unsafe=True: aiohttp's jar drops cookies of IP-address hosts such as 127.0.0.1 otherwise
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"{base}/ops/", allow_redirects=False) as reply:
            assert reply.status == 303 and reply.headers["Location"].startswith("/ops/login")
        async with http.post(
            f"{base}/ops/login",
            data={"name": "dpo", "secret": "s3cret pass"},
            allow_redirects=False,
        ) as reply:
            assert reply.status == 403  # no CSRF value from the login page
        async with http.get(f"{base}/ops/login") as reply:
            csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', await reply.text())
            cookie = reply.cookies["gk_ops_login"]
            assert cookie["httponly"] and cookie["samesite"] == "Strict"
        assert csrf is not None
        form = {"csrf": csrf.group(1), "name": "dpo", "secret": "wrong"}
        async with http.post(f"{base}/ops/login", data=form) as reply:
            assert reply.status == 401
        async with http.get(f"{base}/ops/login") as reply:
            csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', await reply.text())
        assert csrf is not None
        form = {"csrf": csrf.group(1), "name": "dpo", "secret": "s3cret pass"}
        async with http.post(f"{base}/ops/login", data=form, allow_redirects=False) as reply:
            assert reply.status == 303
        async with http.get(f"{base}/ops/") as reply:
            assert reply.status == 200 and "Sign out dpo" in await reply.text()
            assert reply.headers["Content-Security-Policy"].startswith("default-src 'none'")
        async with http.post(f"{base}/ops/logout", data={"csrf": "forged"}) as reply:
            assert reply.status == 403

    plain = await gateway_factory(upstream.url)
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{plain.http_port}/ops/") as reply,
    ):
        assert reply.status == 503 and "http.admin_token" in await reply.text()
