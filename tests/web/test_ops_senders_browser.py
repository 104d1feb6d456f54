"""/ops/senders in a real browser (Debian's chromium via Playwright): a paused sender domain,
its highlighted complaint rate, and the Resume button."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from tests.support.ops_pages import TOKEN, paused_gateway

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


async def test_paused_sender_resumed_in_the_browser(
    gateway_factory: Any, upstream: Any, browser: Any
) -> None:
    gw = await paused_gateway(gateway_factory, upstream)
    base = f"http://127.0.0.1:{gw.http_port}"
    page = await browser.new_page()
    await page.goto(f"{base}/ops/senders")
    assert re.search(r"/ops/login\?next=%2Fops%2Fsenders$", page.url)
    await page.get_by_label("Password or admin token").fill(TOKEN)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Senders")).to_be_visible()

    row = page.locator("tbody tr", has_text="shop.example")
    await expect(row).to_contain_text("33.333% (above pause rate)")
    await expect(row).to_contain_text("paused since")
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "ops-senders.png"), full_page=True)

    await row.get_by_role("button", name="Resume shop.example").click()
    await expect(page.get_by_role("status")).to_contain_text("shop.example resumed")
    await expect(row).to_contain_text("flowing")
    (pause,) = await gw.store.sender_pauses()
    assert pause.resumed_at
