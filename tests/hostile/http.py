"""HTTP spoken to the gateway for the hostile-input tests (wire.py speaks SMTP): the admin
API with the tests' token, and raw requests that no client library would send."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

TOKEN = "test-admin-token-0123456789"
"""`http.admin_token` of the gateways these tests start."""


async def call(port: int, method: str, path: str, body: bytes = b"") -> tuple[int, Any]:
    """One admin API call with a JSON body: its status and its JSON answer."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    url = f"http://127.0.0.1:{port}/api/v1{path}"
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, data=body, headers=headers) as reply,
    ):
        return reply.status, await reply.json()


async def api(port: int, method: str, path: str, body: bytes = b"") -> int:
    """The status of an API call that is to be refused; its answer is a JSON error."""
    status, reply = await call(port, method, path, body)
    assert "error" in reply, reply
    return status


async def raw_request(port: int, method: str, path: str, headers: bytes, body: bytes = b"") -> int:
    """The status of one request sent as raw bytes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Length: {len(body)}\r\n".encode()
        + headers
        + b"\r\n"
        + body
    )
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])
