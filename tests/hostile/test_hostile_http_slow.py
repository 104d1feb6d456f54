"""Requests that trickle in, bounded by `http.request_timeout`: headers not sent whole by
then close the connection (aiohttp's keep-alive timer, an hour before it was set); a body
not sent whole is answered `408 Request Timeout` and its connection closed
(gateway/web/deadline.py). Before, a trickling body held its connection and a handler's
task for as long as it kept sending, on the dashboard's forms, the admin API and the
providers' webhooks alike."""

from __future__ import annotations

import asyncio
import re

import pytest

from gateway.config import ConfigError, load_config
from tests.hostile.http import TOKEN
from tests.support.hooks import MAILGUN_KEY

FORM = b"Content-Type: application/x-www-form-urlencoded\r\n"
JSON = b"Content-Type: application/json\r\n"
BODIES = {
    "/ops/login": FORM,
    "/api/v1/suppressions": f"Authorization: Bearer {TOKEN}\r\n".encode() + JSON,
    "/hooks/mailgun": JSON,
}


async def answer(port: int, request: bytes, rest: bytes = b"") -> bytes:
    """Everything the server sends for `request` (a part of one), to the connection's end;
    `rest` is sent once its answer begins."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    try:
        first = await asyncio.wait_for(reader.readline(), 30)
        # the rest of the body, or aiohttp waits 10 s (its lingering) for it before closing
        writer.write(rest)
        return first + await asyncio.wait_for(reader.read(), 30)  # to the end: closed
    finally:
        writer.close()


def trickled_body(path: str, headers: bytes) -> bytes:
    start = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n"
    return start.encode() + headers + b"\r\nab"


REST = b"x" * 998


async def test_a_request_that_trickles_is_cut_off(upstream, gateway_factory):
    gw = await gateway_factory(
        upstream.url,
        http={"admin_token": TOKEN, "request_timeout": 0.5},
        hooks={"mailgun_signing_key": MAILGUN_KEY},
    )
    port = gw.http_port
    half_headers = answer(port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1")
    bodies = [answer(port, trickled_body(p, h), REST) for p, h in BODIES.items()]
    headers_cut, *answers = await asyncio.gather(half_headers, *bodies)
    assert headers_cut == b""  # closed without an answer: there was no request yet
    for path, text in zip(BODIES, answers, strict=True):
        assert text.startswith(b"HTTP/1.1 408 "), (path, text[:80])
    assert await gw.store.suppressions() == []


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_a_request_timeout_that_is_no_wait_is_a_config_error(tmp_path, value):
    path = tmp_path / "gatekeeper.toml"
    path.write_text(f"[http]\nrequest_timeout = {value}\n")
    with pytest.raises(ConfigError, match=re.escape("'http.request_timeout' must be more than 0")):
        load_config(str(path), environ={})
