"""The unsubscribe pages of a running gateway over real HTTP: links, forms, headers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from gateway.consent import tokens

SECRET = "test-secret-1"
ADDRESS = "alice@example.org"
EXPECTED_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Vary": "Accept-Language",
}
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@dataclass
class Site:
    gw: Any
    http: aiohttp.ClientSession

    def url(self, token: str) -> str:
        return f"http://127.0.0.1:{self.gw.http_port}/u/{token}"

    async def get(self, token: str) -> tuple[int, str, Any]:
        async with self.http.get(self.url(token)) as resp:
            return resp.status, await resp.text(), resp.headers

    async def post(self, token: str, data: Any) -> tuple[int, str, Any]:
        async with self.http.post(self.url(token), data=data, allow_redirects=False) as resp:
            return resp.status, await resp.text(), resp.headers


def token_for(scope: str, address: str = ADDRESS, age: timedelta = timedelta(0)) -> str:
    return tokens.issue([SECRET.encode()], address, scope, datetime.now(UTC) - age)


def csrf(page: str, action: str) -> str:
    match = re.search(
        rf'name="action" value="{action}"><input type="hidden" name="csrf" value="([0-9a-f]+)"',
        page,
    )
    assert match, f"no {action} form on the page"
    return match.group(1)


def assert_secure_headers(headers: Any) -> None:
    for name, value in EXPECTED_HEADERS.items():
        assert headers.get(name) == value, name
    assert headers["Content-Type"].startswith("text/html")
