"""A message is held once (issue 11): what Python allocates while one large message goes
through DATA, accept, the spool and delivery, and that it is given back.

The peak is at the end of DATA (smtp/data.py: the read buffer, with its growth room, and the
message's `bytes` made from it: 2.1 x); after it accept, the spool and delivery add no copy
(before: 3.0 x, the body decoded and case-folded whole for the promotional markers; 5 x
with the trace-field, spool and delivery copies).

tracemalloc counts allocations, not time: no timing here. SQLite's own buffers are not
Python allocations (the spool writes large messages by blob I/O, so it copies none); the
whole-process figures are bench/smtp_hostile.py's (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import socket
import tracemalloc
from pathlib import Path

from tests.support.messages import send
from tests.support.waiting import wait_until

SIZE = 4 * 1024 * 1024


def message_of(size: int) -> bytes:
    head = b"From: <app@example.com>\r\nTo: <a@example.org>\r\nSubject: big\r\n\r\n"
    line = b"x" * 76 + b"\r\n"
    return head + line * (size // len(line)) + b".\r\n"


def send_raw(port: int, message: bytes) -> bytes:
    """One session over a blocking socket: `sendall` of a memoryview copies nothing."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        replies = sock.makefile("rb")

        def reply() -> bytes:
            while (line := replies.readline())[3:4] == b"-":
                pass
            return line

        reply()
        for command in (b"EHLO t", b"MAIL FROM:<app@example.com>", b"RCPT TO:<a@example.org>"):
            sock.sendall(command + b"\r\n")
            reply()
        sock.sendall(b"DATA\r\n")
        reply()
        sock.sendall(memoryview(message))
        answer = reply()
        sock.sendall(b"QUIT\r\n")
        return answer


async def test_one_large_message_is_held_once_and_given_back(gateway_factory, tmp_path: Path):
    outbox = tmp_path / "outbox"
    gw = await gateway_factory(f"outbox:{outbox}", smtp={"max_message_size": 2 * SIZE})
    assert (await asyncio.to_thread(send_raw, gw.smtp_port, message_of(1000))).startswith(b"250")
    await wait_until(lambda: len(list(outbox.glob("*.eml"))) == 1)
    message = message_of(SIZE)
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        answer = await asyncio.to_thread(send_raw, gw.smtp_port, message)
        assert answer.startswith(b"250"), answer
        await wait_until(lambda: len(list(outbox.glob("*.eml"))) == 2)
        await asyncio.sleep(0)  # the delivery worker drops the message after writing it
        await wait_until(lambda: tracemalloc.get_traced_memory()[0] - base < SIZE // 4)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - base < 2.25 * SIZE, f"peak {(peak - base) / SIZE:.2f} x the message"


async def test_large_message_reaches_the_upstream_byte_for_byte(upstream, gateway_factory):
    """DATA upstream is dot-stuffed a window at a time (delivery/upstream.py): dot-led lines
    on both sides of a window's end and at the start of the body arrive as sent."""
    lines = [b".dot %d " % n + b"y" * 90 + b"\r\n" for n in range(6000)]  # ~600 KB
    body = b"..two dots\r\n.\r\n" + b"".join(lines) + b"x" * 500 + b"\r\n."
    data = b"From: <app@example.com>\r\nSubject: big\r\n\r\n" + body + b"\r\n"
    gw = await gateway_factory(upstream.url, smtp={"max_message_size": 2 * len(data)})
    assert await asyncio.to_thread(send, gw.smtp_port, ["a@example.org"], data) == {}
    [captured] = await asyncio.to_thread(upstream.handler.wait_for, 1)
    assert captured.data.startswith(b"Received: from ") and captured.data.endswith(data)
