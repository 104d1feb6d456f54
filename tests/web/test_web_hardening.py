"""The HTTP side attacked as an outsider would (issue 11): numbers that are not numbers,
a copied cookie after sign-out, password guessing, and the headers on every kind of answer."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest

TOKEN = "hardening-token-0123456789"
BAD_NUMBERS = ["²", "99999999999999999999", "9223372036854775808", "-1", "1e3", " 5", "٣"]


def jar() -> aiohttp.CookieJar:
    return aiohttp.CookieJar(unsafe=True)


async def sign_in(http: aiohttp.ClientSession, base: str, secret: str = TOKEN) -> int:
    async with http.get(f"{base}/ops/login") as reply:
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', await reply.text())
    assert csrf is not None
    form = {"csrf": csrf.group(1), "name": "", "secret": secret}
    async with http.post(f"{base}/ops/login", data=form, allow_redirects=False) as reply:
        return reply.status


@pytest.fixture
async def base(gateway_factory: Any, upstream: Any) -> str:
    gw = await gateway_factory(upstream.url, http={"admin_token": TOKEN, "login_max_failures": 3})
    return f"http://127.0.0.1:{gw.http_port}"


@pytest.mark.parametrize("value", BAD_NUMBERS)
async def test_api_numbers_are_checked(base: str, value: str) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(headers=auth) as http:
        for name in ("cursor", "limit"):
            async with http.get(f"{base}/api/v1/decisions", params={name: value}) as reply:
                assert reply.status == 400, (name, value)
                body = await reply.json()
                assert name in body["error"] and "whole number" in body["error"]


@pytest.mark.parametrize("value", BAD_NUMBERS)
async def test_dashboard_numbers_are_checked(base: str, value: str) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        assert await sign_in(http, base) == 303
        for name in ("before", "after"):
            async with http.get(f"{base}/ops/", params={name: value}) as reply:
                assert reply.status == 400, (name, value)
                assert "whole number" in await reply.text()
        async with http.get(f"{base}/ops/queue", params={"after": value}) as reply:
            assert reply.status == 400


async def test_huge_decision_number_is_a_page_not_a_fault(base: str) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        assert await sign_in(http, base) == 303
        async with http.get(f"{base}/ops/decisions/99999999999999999999") as reply:
            assert reply.status == 400
        async with http.get(f"{base}/ops/decisions/42") as reply:
            assert reply.status == 404


async def test_a_signed_out_cookie_no_longer_works(base: str) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        assert await sign_in(http, base) == 303
        cookie = {c.key: c.value for c in http.cookie_jar}["gk_ops"]
        async with http.get(f"{base}/ops/") as reply:
            page = await reply.text()
            assert reply.status == 200
        csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        assert csrf is not None
        async with http.post(
            f"{base}/ops/logout", data={"csrf": csrf.group(1)}, allow_redirects=False
        ) as reply:
            assert reply.status == 303
    # the copy someone kept from before the sign-out
    async with (
        aiohttp.ClientSession(cookies={"gk_ops": cookie}) as stranger,
        stranger.get(f"{base}/ops/", allow_redirects=False) as reply,
    ):
        assert reply.status == 303 and reply.headers["Location"].startswith("/ops/login")


async def test_wrong_passwords_are_throttled_per_address(base: str) -> None:
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        assert [await sign_in(http, base, "wrong") for _ in range(3)] == [401, 401, 401]
        # locked out now, even with the right token
        async with http.get(f"{base}/ops/login") as reply:
            csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', await reply.text())
        assert csrf is not None
        form = {"csrf": csrf.group(1), "name": "", "secret": TOKEN}
        async with http.post(f"{base}/ops/login", data=form, allow_redirects=False) as reply:
            assert reply.status == 429
            assert int(reply.headers["Retry-After"]) > 0
            assert "Too many failed sign-ins" in await reply.text()
    # another client address is not locked out (127.0.0.2 is loopback too)
    other = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(cookie_jar=jar(), connector=other) as http:
        assert await sign_in(http, base) == 303


@pytest.mark.parametrize(
    ("path", "html"),
    [
        ("/api/v1/decisions", False),
        ("/api/v1/nowhere", False),
        ("/readyz", False),
        ("/healthz", False),
        ("/metrics", False),
        ("/ops/login", True),
        ("/nowhere", False),
    ],
)
async def test_security_headers_on_every_answer(base: str, path: str, html: bool) -> None:
    async with aiohttp.ClientSession() as http, http.get(base + path) as reply:
        headers = reply.headers
    assert headers["Cache-Control"] == "no-store"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    if html:
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
