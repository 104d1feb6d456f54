"""The preference page in a real browser: Debian's chromium driven by Playwright."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from gateway.consent import tokens
from tests.support.seed import seed_contact
from tests.support.unsubscribe import ADDRESS, SECRET

SCREENSHOT = Path(__file__).resolve().parents[1] / "artifacts" / "unsubscribe-page.png"


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
    await expect(page.get_by_role("status")).to_contain_text("no longer get emails about “offers”")
    await page.screenshot(
        path=str(SCREENSHOT.with_name("unsubscribe-page-after.png")), full_page=True
    )

    suppressions = await gw.store.suppressions(ADDRESS)
    assert [(s.scope, s.reason) for s in suppressions] == [("offers", "unsubscribed")]


LANGUAGE_PAGES = [
    # (contact country, page language, the confirm button, the heading)
    ("cz", "cs", "Ano, odhlásit odběr", "Nastavení e-mailů od ACME s.r.o."),
    ("pl", "pl", "Tak, wypisz mnie", "Ustawienia e-maili od ACME s.r.o."),
    ("nl", "nl", "Ja, afmelden", "Uw e-mailvoorkeuren bij ACME s.r.o."),
    ("de", "de", "Ja, abmelden", "Ihre E-Mail-Einstellungen bei ACME s.r.o."),
    ("fr", "fr", "Oui, me désinscrire", "Vos préférences pour les e-mails de ACME s.r.o."),
    (None, "en", "Yes, unsubscribe me", "Email choices from ACME s.r.o."),
]


@pytest.mark.parametrize(("country", "lang", "button", "heading"), LANGUAGE_PAGES)
async def test_the_page_in_each_language(
    gateway_factory: Any,
    upstream: Any,
    browser: Any,
    country: str | None,
    lang: str,
    button: str,
    heading: str,
) -> None:
    """The contact's country picks the language, whatever the browser's own (en-US here)."""
    gw = await gateway_factory(
        upstream.url, unsubscribe={"secret": [SECRET]}, identity={"name": "ACME s.r.o."}
    )
    await seed_contact(gw.store, ADDRESS, "newsletter", "offers", country=country)
    token = tokens.issue([SECRET.encode()], ADDRESS, "newsletter", datetime.now(UTC))

    context = await browser.new_context(locale="en-US")
    page = await context.new_page()
    await page.goto(f"http://127.0.0.1:{gw.http_port}/u/{token}")
    await expect(page.locator("html")).to_have_attribute("lang", lang)
    await expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    await expect(page.get_by_role("button", name=button)).to_be_visible()
    SCREENSHOT.parent.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOT.with_name(f"unsubscribe-{lang}.png")), full_page=True)
    await context.close()


async def test_accept_language_from_the_browser_locale(
    gateway_factory: Any, upstream: Any, browser: Any
) -> None:
    """No country known (.org, no contact row): the browser's locale decides; the page's own
    language links switch, and the choice is made in the language read."""
    gw = await gateway_factory(
        upstream.url, unsubscribe={"secret": [SECRET]}, identity={"name": "ACME s.r.o."}
    )
    token = tokens.issue([SECRET.encode()], ADDRESS, "all", datetime.now(UTC))
    context = await browser.new_context(locale="pl-PL")
    page = await context.new_page()
    await page.goto(f"http://127.0.0.1:{gw.http_port}/u/{token}")
    await expect(page.locator("html")).to_have_attribute("lang", "pl")
    await expect(page.get_by_role("button", name="Tak, wypisz mnie")).to_be_visible()

    await page.get_by_role("link", name="Čeština").click()
    await expect(page.locator("html")).to_have_attribute("lang", "cs")
    await page.get_by_role("button", name="Ano, odhlásit odběr").click()
    await expect(page.get_by_role("status")).to_have_text(
        "Hotovo: už nebudete dostávat žádné e-maily."
    )
    await page.screenshot(path=str(SCREENSHOT.with_name("unsubscribe-cs-done.png")), full_page=True)
    await context.close()
    [entry] = await gw.store.suppressions(ADDRESS)
    assert (entry.scope, entry.reason) == ("all", "unsubscribed")
