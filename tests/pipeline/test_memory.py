"""A message is held once (issue 11): what one large message costs while it goes through
DATA, accept, the spool and delivery, and that it is given back.

- tracemalloc, in the test's own gateway: what Python allocates. The peak is the read buffer
  at the end of DATA (smtp/data.py: an io.BytesIO whose `getvalue()` is the message, with its
  growth room of up to 1/8) plus windows of a few hundred KB (lines, markers): 1.3 x for
  4 MB. Before: 2.1 x (a bytearray and the `bytes()` of it), 3.0 x with the body decoded
  whole for the promotional markers, 5 x with the trace-field, spool and delivery copies.
- RSS of `gatekeeper serve` as a process of its own, what issue 11 asks: VmHWM reset before
  the message (Linux `clear_refs`), so the peak is the message's, not start-up's: 1.1 x
  (before: 2.0 x), and back near where it was once it is delivered.

No timing here: only bounded waits for what must happen (the .eml, RSS going back down).
SQLite writes large messages by blob I/O (no Python copy); its page cache is bounded.
"""

from __future__ import annotations

import asyncio
import socket
import tracemalloc
from pathlib import Path

import pytest

from tests.support.config import gateway_sections, write_config
from tests.support.messages import send
from tests.support.waiting import wait_until

SIZE = 4 * 1024 * 1024
PROCESS_SIZE = 16 * 1024 * 1024
"""The whole-process measurement's message: large next to what the process holds anyway."""


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
    assert peak - base < 1.5 * SIZE, f"peak {(peak - base) / SIZE:.2f} x the message"


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid: int) -> None:
    """VmHWM back to the current RSS (Linux `clear_refs` 5); skip where that is refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError as exc:
        pytest.skip(f"VmHWM cannot be reset here: {exc}")


async def test_the_gateway_process_holds_a_large_message_once(tmp_path: Path, process_factory):
    outbox = tmp_path / "outbox"
    sections = gateway_sections(
        tmp_path,
        f"outbox:{outbox}",
        # one process: the one measured is the one that receives the message
        smtp={"max_message_size": 2 * PROCESS_SIZE, "processes": 1},
    )
    gw = process_factory(write_config(tmp_path, sections)).start()
    pid = gw.proc.pid
    # warm: imports, the first store writes and deliveries happen before the measurement
    assert (await asyncio.to_thread(send_raw, gw.smtp_port, message_of(1000))).startswith(b"250")
    await wait_until(lambda: len(list(outbox.glob("*.eml"))) == 1)
    message = message_of(PROCESS_SIZE)
    reset_peak(pid)
    base = status_kb(pid, "VmRSS") * 1024
    answer = await asyncio.to_thread(send_raw, gw.smtp_port, message)
    assert answer.startswith(b"250"), answer
    await wait_until(lambda: len(list(outbox.glob("*.eml"))) == 2)
    peak = status_kb(pid, "VmHWM") * 1024 - base
    # issue 11 asks < 2 x; 1.5 x so that a second copy cannot come back unnoticed (1.1 x now)
    assert peak < 1.5 * len(message), f"RSS peak +{peak / len(message):.2f} x the message"
    # given back: freed large blocks are unmapped (smtp/resources.py), the heap trimmed
    await wait_until(lambda: status_kb(pid, "VmRSS") * 1024 - base < len(message) // 4)


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
