"""SMTP spoken byte by byte for the hostile-network tests (issue 11).

smtplib and aiosmtplib repair line endings and refuse odd arguments, so the attacks here
write raw bytes to the gateway and read its replies as they come.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass
from typing import Any

from tests.support.seed import seed_contact
from tests.support.servers import Captured, Upstream

TIMEOUT = 30.0
SECRET = "hostile-tests-unsubscribe-secret"
FAN = "fan@example.org"
"""A recipient with marketing consent for the topic `newsletter` (see `marketing_gateway`)."""
SHOP = "shop@example.com"
"""A sender bound to no stream: the message's own headers declare its purpose."""
ENHANCED_5XX = re.compile(rb"^5\d\d 5\.\d{1,3}\.\d{1,3} ")

NORMAL = (
    b"From: Shop <shop@example.com>\r\n"
    b"To: fan@example.org\r\n"
    b"Subject: Your receipt\r\n"
    b"Message-ID: <normal@example.com>\r\n"
    b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
    b"\r\n"
    b"Thank you for your order.\r\n"
)


@dataclass
class Wire:
    """One client connection; every read is bounded by TIMEOUT."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    greeting: bytes = b""

    @classmethod
    async def open(cls, port: int) -> Wire:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        wire = cls(reader, writer)
        wire.greeting = await wire.reply()
        return wire

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def reply(self) -> bytes:
        """One whole (possibly multi-line) reply; b"" when the server closed instead."""
        lines = []
        while True:
            line = await asyncio.wait_for(self.reader.readline(), TIMEOUT)
            if not line:
                return b"".join(lines)
            lines.append(line)
            if line[3:4] != b"-":
                return b"".join(lines)

    async def command(self, line: bytes) -> bytes:
        await self.send(line + b"\r\n")
        return await self.reply()

    async def replies_until_closed(self, limit: int = 50) -> list[bytes]:
        """Every reply up to the server's close (after QUIT), at most `limit`."""
        replies = []
        for _ in range(limit):
            reply = await self.reply()
            if not reply:
                return replies
            replies.append(reply)
        raise AssertionError(f"more than {limit} replies: {replies!r}")

    async def envelope(self, sender: str, *recipients: str) -> None:
        assert (await self.command(b"EHLO client.test")).startswith(b"250")
        assert (await self.command(f"MAIL FROM:<{sender}>".encode())).startswith(b"250")
        for rcpt in recipients:
            reply = await self.command(f"RCPT TO:<{rcpt}>".encode())
            assert reply.startswith(b"250"), reply

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


def dot_stuffed(message: bytes) -> bytes:
    """The DATA payload of a message of CRLF lines, end mark included (RFC 5321 §4.5.2)."""
    if message and not message.endswith(b"\r\n"):
        message += b"\r\n"
    if message.startswith(b"."):
        message = b"." + message
    return message.replace(b"\r\n.", b"\r\n..") + b".\r\n"


async def send_message(port: int, message: bytes, sender: str = SHOP, to: str = FAN) -> bytes:
    """One session, one message: the reply to its DATA (b"" if the connection dropped)."""
    wire = await Wire.open(port)
    try:
        await wire.envelope(sender, to)
        assert (await wire.command(b"DATA")).startswith(b"354")
        await wire.send(dot_stuffed(message))
        reply = await wire.reply()
        if reply:
            assert (await wire.command(b"QUIT")).startswith(b"221")
        return reply
    finally:
        await wire.close()


async def marketing_gateway(gateway_factory: Any, upstream: Upstream, **overrides: Any) -> Any:
    """Unsubscribe links and footer on, the operator identified, FAN consented to marketing:
    marketing mail to FAN goes through every transform rather than stopping at a refusal."""
    sections: dict[str, Any] = {
        "unsubscribe": {"secret": [SECRET], "footer": True},
        "identity": {
            "name": "Example Shop",
            "registration": "12345678",
            "postal_address": "Main Street 1, 110 00 Praha",
        },
        "http": {"public_url": "https://shop.example"},
    }
    for name, values in overrides.items():
        sections.setdefault(name, {}).update(values)
    gw = await gateway_factory(upstream.url, **sections)
    await seed_contact(gw.store, FAN, "newsletter")
    return gw


async def wait_for_recipient(upstream: Upstream, recipient: str) -> list[Captured]:
    """Everything captured once a message to `recipient` has arrived (bounded wait)."""
    for _ in range(int(TIMEOUT / 0.05)):
        with upstream.handler.lock:
            if any(recipient in m.recipients for m in upstream.handler.messages):
                return list(upstream.handler.messages)
        await asyncio.sleep(0.05)
    raise AssertionError(f"nothing reached the upstream for {recipient}")
