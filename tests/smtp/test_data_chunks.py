"""The DATA reader (gateway/smtp/data.py) unstuffs a chunk at a time: the end mark and the
stuffed dots come out the same wherever the client's bytes are cut, and a large message is
held once (the `bytes` handed over is the buffer it was read into)."""

from __future__ import annotations

import asyncio
import socket
import tracemalloc

import pytest

from gateway.config import SmtpConfig
from gateway.smtp.data import Data, read_data
from gateway.smtp.limits import SessionLimits

WIRES = [
    b".\r\n",
    b"..\r\n.\r\n",
    b"...\r\n.\r\nQUIT\r\n",
    b"a\r\n..b\r\n..\r\nc\r\n.\r\n",
    b"..a\r\n..b\r\n...c\r\n.\r\nNOOP\r\n",
    b"a.\r\n.b\r\n.\r\n",
    # near misses of the end mark: a dot line that goes on, a CR without LF after the dot
    b"x\r\n.\rb\r\n..\r\n.y\r\n\r\n.\r\n",
    b"\r\n\r\n..\r\n\r\n.\r\n",
    b"x\r\n.\r\r\n.\r\n",
]


class Trickle(asyncio.StreamReader):
    """A real StreamReader whose reads return at most `step` bytes: the chunk boundaries."""

    def __init__(self, wire: bytes, step: int) -> None:
        super().__init__()
        self.step = step
        self.feed_data(wire)
        self.feed_eof()

    async def read(self, n: int = -1) -> bytes:
        return await super().read(min(n, self.step))


def expected(wire: bytes) -> tuple[bytes, bytes]:
    """RFC 5321 §4.5.2 done whole: up to the end mark, `CRLF..` -> `CRLF.`; then the rest."""
    stream = b"\r\n" + wire
    found = stream.index(b"\r\n.\r\n")
    return stream[: found + 2].replace(b"\r\n..", b"\r\n.")[2:], stream[found + 5 :]


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize("step", [1, 2, 3, 4, 5, 7])
async def test_the_same_message_wherever_the_chunks_end(wire: bytes, step: int):
    reader = Trickle(wire, step)
    limits = SessionLimits(SmtpConfig(max_inflight_bytes=10_000))
    data = await read_data(reader, 10_000, limits)
    message, rest = expected(wire)
    assert data.data == message
    assert data.size == len(wire) - len(rest) - 3  # as sent, without the final `.CRLF`
    assert await reader.read(-1) == rest


async def test_a_large_message_is_allocated_once():
    """Over loopback, so the StreamReader's own buffer stays as small as in the listener."""
    size = 4 * 1024 * 1024
    wire = b"..x" + b"y" * 75 + b"\r\n" + (b"z" * 78 + b"\r\n") * (size // 80) + b".\r\n"
    limits = SessionLimits(SmtpConfig(max_inflight_bytes=2 * size))
    done: asyncio.Future[tuple[Data, int]] = asyncio.get_running_loop().create_future()

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        data = await read_data(reader, 2 * size, limits)
        done.set_result((data, tracemalloc.get_traced_memory()[1] - base))
        writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    tracemalloc.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as client:
            # a blocking client in a thread: its send buffer is no allocation of the loop's
            await asyncio.to_thread(client.sendall, memoryview(wire))
            data, peak = await asyncio.wait_for(done, 60)
    finally:
        tracemalloc.stop()
        server.close()
    assert data.data is not None and data.data.startswith(b".xy")
    assert len(data.data) == len(wire) - 4
    # the buffer's growth room (1/8) and a chunk or two, not a second copy of the message
    assert peak < 1.3 * len(data.data), f"{peak / len(data.data):.2f} x"
