"""What an operator sees of a fleet: /readyz names the database and the instance, and the
dashboard's /ops/instances lists every instance alive with what it holds."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp

from gateway.passwords import hash_password
from tests.support.fleet import instance_config
from tests.support.servers import Upstream


async def sign_in(http: aiohttp.ClientSession, base: str) -> None:
    async with http.get(f"{base}/ops/login") as reply:
        csrf = re.search(r'name="csrf" value="([^"]+)"', await reply.text())
    assert csrf is not None
    form = {"csrf": csrf.group(1), "name": "ops", "secret": "fleet pass"}
    async with http.post(f"{base}/ops/login", data=form, allow_redirects=False) as reply:
        assert reply.status == 303


async def test_readyz_and_instances_page(
    tmp_path: Path, pg_url: str, upstream: Upstream, process_factory: Any
) -> None:
    users = [{"name": "ops", "password_hash": hash_password("fleet pass", "scrypt")}]
    a, b = (
        process_factory(
            instance_config(
                tmp_path,
                name,
                pg_url,
                upstream.url,
                http={"users": users, "admin_token": "fleet-admin-token-0123456789"},
            )
        ).start()
        for name in ("a", "b")
    )
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(f"http://127.0.0.1:{b.http_port}/readyz") as reply:
            ready = await reply.json()
        assert ready["instance"] == "gw.test/b" and ready["store"] == pg_url, ready
        base = f"http://127.0.0.1:{a.http_port}"
        await sign_in(http, base)
        async with http.get(f"{base}/ops/instances") as reply:
            page = await reply.text()
    assert reply.status == 200, page
    assert "2 of 2 instance(s) alive" in page
    assert "gw.test/a (this one)" in page and "gw.test/b" in page
