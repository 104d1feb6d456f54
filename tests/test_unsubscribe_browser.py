"""The preference page in a real browser: Debian's chromium driven by Playwright."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright, expect

from gateway import tokens
from tests.test_unsubscribe_web import ADDRESS, SECRET, seed_contact

CHROMIUM = Path("/usr/bin/chromium")
# Offline and quiet: no sandbox in containers, no update or sync traffic during tests.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT = Path(__file__).parent / "artifacts" / "unsubscribe-page.png"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
)


async def test_leave_one_topic_in_the_browser(gateway_factory: Any, upstream: Any) -> None:
    gw = await gateway_factory(
        upstream.url, unsubscribe={"secret": [SECRET]}, identity={"name": "Example Shop"}
    )
    await seed_contact(gw.store, ADDRESS, "newsletter", "offers")
    token = tokens.issue([SECRET.encode()], ADDRESS, "newsletter", datetime.now(UTC))

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            await page.goto(f"http://127.0.0.1:{gw.http_port}/u/{token}")
            SCREENSHOT.parent.mkdir(exist_ok=True)
            await page.screenshot(path=str(SCREENSHOT), full_page=True)
            await page.get_by_label("Stop emails about “offers”").check()
            await page.get_by_role("button", name="Save my choices").click()
            await expect(page.get_by_role("status")).to_contain_text(
                "no longer get emails about “offers”"
            )
            await page.screenshot(
                path=str(SCREENSHOT.with_name("unsubscribe-page-after.png")), full_page=True
            )
        finally:
            await browser.close()

    suppressions = await gw.store.suppressions(ADDRESS)
    assert [(s.scope, s.reason) for s in suppressions] == [("offers", "unsubscribed")]
