"""The preference page in a real browser: Debian's chromium driven by Playwright."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.async_api import expect

from gateway import tokens
from tests.test_unsubscribe_web import ADDRESS, SECRET, seed_contact

SCREENSHOT = Path(__file__).parent / "artifacts" / "unsubscribe-page.png"

async def test_leave_one_topic_in_the_browser(
    gateway_factory: Any, upstream: Any, browser: Any
) -> None:
    gw = await gateway_factory(
        upstream.url, unsubscribe={"secret": [SECRET]}, identity={"name": "Example Shop"}
    )
    await seed_contact(gw.store, ADDRESS, "newsletter", "offers")
    token = tokens.issue([SECRET.encode()], ADDRESS, "newsletter", datetime.now(UTC))

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

    suppressions = await gw.store.suppressions(ADDRESS)
    assert [(s.scope, s.reason) for s in suppressions] == [("offers", "unsubscribed")]
