"""The recipient's language on the unsubscribe pages, over real HTTP against a gateway."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from gateway.consent import tokens
from tests.support.seed import seed_contact
from tests.support.unsubscribe import (
    ADDRESS,
    ONE_CLICK,
    SECRET,
    Site,
    assert_secure_headers,
    csrf,
    token_for,
)

OPERATOR = "ACME s.r.o."


class Browser(Site):
    """The test site with request headers, as a person's browser sends them."""

    async def fetch(
        self, method: str, token: str, accept: str = "", query: str = "", data: Any = None
    ) -> tuple[int, str, Any]:
        headers = {"Accept-Language": accept} if accept else {}
        url = self.url(token) + query
        async with self.http.request(method, url, headers=headers, data=data) as resp:
            return resp.status, await resp.text(), resp.headers


def language_of(text: str, headers: Any) -> str:
    match = re.search(r'<html lang="([a-z]+)">', text)
    assert match, "no <html lang>"
    assert headers["Content-Language"] == match.group(1)
    assert headers["Vary"] == "Accept-Language"
    return match.group(1)


@pytest.fixture
async def site(gateway_factory: Any, upstream: Any) -> AsyncIterator[Browser]:
    gw = await gateway_factory(
        upstream.url, unsubscribe={"secret": [SECRET]}, identity={"name": OPERATOR}
    )
    async with aiohttp.ClientSession() as http:
        yield Browser(gw, http)


@pytest.mark.parametrize(
    ("country", "lang", "question"),
    [
        ("cz", "cs", "Chcete přestat dostávat e-maily na téma „newsletter“ od ACME s.r.o.?"),
        ("pl", "pl", "Czy chcesz przestać otrzymywać e-maile na temat „newsletter” od ACME"),
        ("nl", "nl", "Wilt u zich afmelden voor e-mails over “newsletter” van ACME s.r.o.?"),
        ("de", "de", "Möchten Sie E-Mails zum Thema „newsletter“ von ACME s.r.o. abbestellen?"),
        ("fr", "fr", "Voulez-vous arrêter de recevoir les e-mails concernant «\u00a0newsletter"),
        ("gb", "en", "Do you want to stop getting emails about “newsletter” from ACME s.r.o.?"),
    ],
)
async def test_contact_country_picks_the_language_over_the_browser(
    site: Browser, country: str, lang: str, question: str
) -> None:
    await seed_contact(site.gw.store, ADDRESS, "newsletter", country=country)
    accept = "es" if lang == "en" else "en-US,en;q=0.9"
    status, text, headers = await site.fetch("GET", token_for("newsletter"), accept)
    assert status == 200 and language_of(text, headers) == lang
    assert question in text
    assert_secure_headers(headers)


async def test_address_cctld_when_no_contact_country(site: Browser) -> None:
    status, text, headers = await site.fetch(
        "GET", token_for("all", address="jan@firma.cz"), "de;q=1"
    )
    assert status == 200 and language_of(text, headers) == "cs"
    assert "Nastavení e-mailů od ACME s.r.o." in text and "<strong>jan@firma.cz</strong>" in text
    # The contact's stated country outranks the address's ccTLD.
    await seed_contact(site.gw.store, "hans@firma.cz", country="de")
    status, text, headers = await site.fetch("GET", token_for("all", address="hans@firma.cz"))
    assert language_of(text, headers) == "de"


@pytest.mark.parametrize(
    ("accept", "lang"),
    [
        ("en;q=0.3, nl;q=0.8, fr;q=0.5", "nl"),
        ("fr-CA;q=0, pl-PL;q=0.4, es", "pl"),
        ("de-AT", "de"),
        ("es, it;q=0.9", "en"),
        ("", "en"),
    ],
)
async def test_accept_language_when_no_country_says(site: Browser, accept: str, lang: str) -> None:
    await seed_contact(site.gw.store, ADDRESS, "newsletter")  # .org, no country
    status, text, headers = await site.fetch("GET", token_for("newsletter"), accept)
    assert status == 200 and language_of(text, headers) == lang


async def test_the_page_links_its_other_languages(site: Browser) -> None:
    token = token_for("newsletter", address="jan@firma.cz")
    _, text, _ = await site.fetch("GET", token)
    for code, name in (("pl", "Polski"), ("de", "Deutsch"), ("en", "English")):
        assert f'<a href="?lang={code}" hreflang="{code}" lang="{code}">{name}</a>' in text
    assert 'href="?lang=cs"' not in text
    status, text, headers = await site.fetch("GET", token, query="?lang=fr")
    assert status == 200 and language_of(text, headers) == "fr"
    # The form posts to the page's own URL: the chosen language stays after the click.
    leave = {"action": "leave", "scope": "newsletter", "csrf": csrf(text, "leave")}
    status, text, headers = await site.fetch("POST", token, query="?lang=fr", data=leave)
    assert status == 200 and language_of(text, headers) == "fr"
    assert "C’est fait\u00a0: vous ne recevrez plus d’e-mails concernant" in text


@pytest.mark.parametrize(
    ("make_token", "status", "accept", "lang", "wording"),
    [
        (lambda: token_for("all")[:-3], 400, "pl,en;q=0.5", "pl", "Ten link jest nieprawidłowy"),
        (
            lambda: tokens.issue([b"forged"], "jan@firma.cz", "all", datetime.now(UTC)),
            400,
            "nl",
            "nl",
            "Deze link is ongeldig",
        ),
        (
            lambda: token_for("all", address="jan@firma.cz", age=timedelta(days=120)),
            410,
            "de-DE,de;q=0.9",
            "de",
            "Dieser Link ist abgelaufen",
        ),
        (lambda: token_for("all")[:-3], 400, "", "en", "This link is not valid"),
    ],
    ids=["truncated-pl", "forged-nl", "expired-de", "truncated-en"],
)
async def test_error_pages_speak_the_browsers_language(
    site: Browser, make_token: Any, status: int, accept: str, lang: str, wording: str
) -> None:
    """No valid token, no recipient: only Accept-Language (a .cz address in it is not trusted)."""
    token = make_token()
    for method, data in (("GET", None), ("POST", ONE_CLICK)):
        got, text, headers = await site.fetch(method, token, accept, data=data)
        assert got == status and language_of(text, headers) == lang
        assert f"<title>{wording}</title>" in text and "Traceback" not in text
        assert_secure_headers(headers)


async def test_one_click_done_page_in_the_recipients_language(site: Browser) -> None:
    await seed_contact(site.gw.store, "jan@firma.cz", "newsletter", country="cz")
    status, text, headers = await site.fetch(
        "POST", token_for("all", address="jan@firma.cz"), "en", data=ONE_CLICK
    )
    assert status == 200 and language_of(text, headers) == "cs"
    assert "<title>Odběr je zrušen</title>" in text
    assert (
        "Na adresu <strong>jan@firma.cz</strong> už nebudou chodit žádné e-maily od ACME s.r.o."
        in text
    )
    [entry] = await site.gw.store.suppressions("jan@firma.cz")
    assert (entry.scope, entry.source) == ("all", "one-click")


async def test_form_choice_recorded_in_the_words_shown(site: Browser) -> None:
    await seed_contact(site.gw.store, "hans@laden.de", "newsletter", "offers")
    token = token_for("newsletter", address="hans@laden.de")
    page = (await site.fetch("GET", token))[1]
    data = [("action", "leave"), ("scope", "offers"), ("scope", "newsletter")]
    data.append(("csrf", csrf(page, "leave")))
    status, text, _ = await site.fetch("POST", token, data=data)
    assert status == 200
    assert (
        "Erledigt: Sie erhalten keine E-Mails zum Thema „offers“ und keine E-Mails zum Thema "
        "„newsletter“ mehr." in text
    )
    view = await site.gw.store.contact("hans@laden.de")
    evidence = json.loads(view.events[-1].proof)
    assert evidence["lang"] == "de"
    assert evidence["text"] == (
        "E-Mails zum Thema „offers“ abbestellen; E-Mails zum Thema „newsletter“ abbestellen"
    )


async def test_refusal_after_a_valid_link_speaks_the_recipients_language(site: Browser) -> None:
    token = token_for("newsletter", address="anna@sklep.pl")
    data = {"action": "leave", "scope": "newsletter", "csrf": "0" * 64}
    status, text, headers = await site.fetch("POST", token, "fr", data=data)
    assert status == 403 and language_of(text, headers) == "pl"
    assert "Nie udało się zweryfikować formularza" in text and "Nic nie zostało zmienione" in text
    assert await site.gw.store.suppressions("anna@sklep.pl") == []


async def test_no_secret_page_speaks_the_browsers_language(
    gateway_factory: Any, upstream: Any
) -> None:
    gw = await gateway_factory(upstream.url)
    token = tokens.issue([b"whatever"], "jan@firma.cz", "all", datetime.now(UTC))
    async with aiohttp.ClientSession() as http:
        status, text, headers = await Browser(gw, http).fetch("GET", token, "fr")
    assert status == 503 and language_of(text, headers) == "fr"
    assert "La désinscription n’est pas disponible" in text


@pytest.mark.parametrize("lang", ["cs", "pl", "nl", "de", "fr", "en"])
async def test_operator_name_and_topics_are_escaped(
    gateway_factory: Any, upstream: Any, lang: str
) -> None:
    name = 'Bad & Co <script>alert("x")</script>'
    gw = await gateway_factory(
        upstream.url, unsubscribe={"secret": [SECRET]}, identity={"name": name}
    )
    await seed_contact(gw.store, ADDRESS, "<b>deals</b>")
    async with aiohttp.ClientSession() as http:
        site = Browser(gw, http)
        _, text, _ = await site.fetch("GET", token_for("<b>deals</b>"), query=f"?lang={lang}")
        done = (await site.fetch("POST", token_for("all"), query=f"?lang={lang}", data=ONE_CLICK))[
            1
        ]
    for html in (text, done):
        assert "<script>" not in html and "<b>" not in html
        assert "Bad &amp; Co &lt;script&gt;" in html
    assert "&lt;b&gt;deals&lt;/b&gt;" in text
