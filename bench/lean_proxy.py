"""The floor of a relay with an SMTP layer of its own: `asyncio.Protocol` on both sides.

What `../shared/bench/bare_proxy.py` measures for aiosmtpd and aiosmtplib, this measures for
the leanest layer Python allows: commands parsed in `data_received` with no StreamReader
and no task per session, each reply one `transport.write`, DATA taken up to CRLF.CRLF by a
search of the buffer, and a pipelined upstream client (RFC 2920) over persistent
connections. No checks, no spool; the upstream's verdict is the reply, as bare_proxy's.
It answers what owning the SMTP layer could buy (issue 14) before anyone writes one:
a bench tool, not a server (no TLS, no AUTH, no limits).

  python -m bench.lean_proxy --listen 127.0.0.1:10026 --upstream 127.0.0.1:40025 --workers 2

--layer protocol (the above, default) | streams (the same dialogue on asyncio's streams: a
task per session, an await per line and per reply) | aiosmtpd (its SMTP class, unmodified)
| gateway (gateway/smtp/server.py's session at its defaults, no pipeline behind it); each
but `protocol` in front of the same lean upstream client. docs/performance.md, fifth round.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import signal
from asyncio import StreamReader, StreamWriter
from collections.abc import Callable
from typing import cast

import uvloop
from aiosmtpd.smtp import SMTP, Envelope

from gateway.config import SmtpConfig
from gateway.smtp.auth import Authenticator
from gateway.smtp.limits import SessionLimits
from gateway.smtp.server import GatewaySMTP

END = b"\r\n.\r\n"
Reply = tuple[int, bytes]


class UpstreamConnection(asyncio.Protocol):
    """One persistent upstream connection; `ask` writes a pipelined group, reads its replies."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.replies: list[Reply] = []
        self.wanted = 0
        self.waiter: asyncio.Future[list[Reply]] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._take()

    def _take(self) -> None:
        while len(self.replies) < self.wanted and (end := self.buffer.find(b"\n")) >= 0:
            line = bytes(self.buffer[: end + 1])
            del self.buffer[: end + 1]
            if line[3:4] != b"-":  # the last line of a reply
                self.replies.append((int(line[:3]), line[4:].rstrip()))
        if self.waiter and len(self.replies) == self.wanted and not self.waiter.done():
            self.waiter.set_result(self.replies)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiter and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("upstream closed"))

    async def ask(self, data: bytes, count: int) -> list[Reply]:
        assert self.transport is not None
        self.replies, self.wanted = [], count
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        self._take()  # what came before it was asked for (the greeting)
        return await asyncio.wait_for(self.waiter, 30)


class Upstream:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[UpstreamConnection] = []

    async def _connect(self) -> UpstreamConnection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(UpstreamConnection, self.host, self.port)
        await conn.ask(b"", 1)  # the greeting
        await conn.ask(b"EHLO proxy.bench.test\r\n", 1)
        return conn

    async def send(self, sender: bytes, recipients: list[bytes], content: bytes) -> Reply:
        conn = self.idle.pop() if self.idle else await self._connect()
        group = b"MAIL FROM:" + sender + b"\r\n"
        group += b"".join(b"RCPT TO:" + r + b"\r\n" for r in recipients) + b"DATA\r\n"
        replies = await conn.ask(group, len(recipients) + 2)
        if replies[-1][0] != 354:
            if conn.transport is not None:
                conn.transport.close()
            return replies[-1] if replies[-1][0] != 250 else (451, b"4.4.0 upstream refused")
        stuffed = content.replace(b"\r\n.", b"\r\n..")
        (reply,) = await conn.ask(stuffed + b".\r\n", 1)
        if conn.transport is not None:
            self.idle.append(conn)
        return reply


class Session(asyncio.Protocol):
    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.buffer = bytearray()
        self.in_data = False
        self.busy = False
        self.quitting = False
        self.relaying: asyncio.Future[None] | None = None
        self.sender = b""
        self.recipients: list[bytes] = []
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(b"220 proxy.bench.test ESMTP lean\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._work()

    def _work(self) -> None:
        while self.transport is not None and not self.busy:
            if self.in_data:
                end = self.buffer.find(END)
                if end < 0:
                    return
                content = bytes(self.buffer[: end + 2])
                del self.buffer[: end + 5]
                self.in_data, self.busy = False, True
                self.relaying = asyncio.ensure_future(self._relay(content))
                return
            end = self.buffer.find(b"\r\n")
            if end < 0:
                return
            line = bytes(self.buffer[:end])
            del self.buffer[: end + 2]
            self.transport.write(self._command(line))
            if self.quitting:
                self.transport.close()
                return

    def _command(self, line: bytes) -> bytes:
        verb, _, arg = line.partition(b" ")
        verb = verb.upper()
        if verb in (b"HELO", b"EHLO"):
            self.sender, self.recipients = b"", []
            return b"250 proxy.bench.test\r\n"
        if verb == b"MAIL":
            self.sender = arg[5:].split(b" ")[0]
            return b"250 2.1.0 OK\r\n"
        if verb == b"RCPT":
            self.recipients.append(arg[3:].split(b" ")[0])
            return b"250 2.1.5 OK\r\n"
        if verb == b"DATA":
            self.in_data = True
            return b"354 End data with <CR><LF>.<CR><LF>\r\n"
        if verb == b"RSET":
            self.sender, self.recipients = b"", []
            return b"250 2.0.0 OK\r\n"
        if verb == b"QUIT":
            self.quitting = True
            return b"221 2.0.0 Bye\r\n"
        return b"500 5.5.2 Error: command not recognized\r\n"

    async def relayed(self, content: bytes) -> bytes:
        """The reply to a message: its lines up to the end mark, dots still doubled."""
        unstuffed = content.replace(b"\r\n..", b"\r\n.")
        try:
            code, text = await self.upstream.send(self.sender, self.recipients, unstuffed)
        except (OSError, TimeoutError):
            code, text = 451, b"4.4.0 upstream error"
        self.sender, self.recipients = b"", []
        return b"%d %s\r\n" % (code, text)

    async def _relay(self, content: bytes) -> None:
        reply = await self.relayed(content)
        if self.transport is None:
            return
        self.transport.write(reply)
        self.busy = False
        self._work()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def streamed(upstream: Upstream, reader: StreamReader, writer: StreamWriter) -> None:
    """The same dialogue on asyncio's streams: a task per session, an await per line read
    and per reply written (the model aiosmtpd is built on)."""
    writer.write(b"220 proxy.bench.test ESMTP lean\r\n")
    session = Session(upstream)
    while True:
        line = await reader.readuntil(b"\r\n")
        writer.write(session._command(line[:-2]))
        if session.quitting:
            writer.close()
            return
        await writer.drain()
        if session.in_data:
            content = await reader.readuntil(END)
            session.in_data = False
            writer.write(await session.relayed(content[:-3]))
            await writer.drain()


class AiosmtpdHandler:
    """aiosmtpd's SMTP class in front of the lean upstream client."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        sender = b"<" + (envelope.mail_from or "").encode() + b">"
        recipients = [b"<" + r.encode() + b">" for r in envelope.rcpt_tos]
        content = envelope.original_content or b""
        code, text = await self.upstream.send(sender, recipients, content)
        return f"{code} {text.decode()}"


def _factory(layer: str, upstream: Upstream) -> Callable[[], asyncio.BaseProtocol]:
    if layer == "protocol":
        return lambda: Session(upstream)
    if layer == "streams":
        loop = asyncio.get_running_loop()

        def streams() -> asyncio.BaseProtocol:
            reader = StreamReader(limit=64 * 1024 * 1024, loop=loop)
            return asyncio.StreamReaderProtocol(
                reader, functools.partial(streamed, upstream), loop=loop
            )

        return streams
    handler = AiosmtpdHandler(upstream)
    if layer == "gateway":
        return _gateway_sessions(handler)
    return lambda: SMTP(handler, hostname="proxy.bench.test", ident="lean")


def _gateway_sessions(handler: AiosmtpdHandler) -> Callable[[], asyncio.BaseProtocol]:
    """The gateway's SMTP session (gateway/smtp/server.py) at its defaults, with none of
    the pipeline's stages: what its SMTP layer costs as it stands."""
    config = SmtpConfig()
    limits, authenticator = SessionLimits(config), Authenticator.from_config(config)
    return lambda: GatewaySMTP(
        handler,
        authenticator=authenticator,
        limits=limits,
        hostname="proxy.bench.test",
        data_size_limit=config.max_message_size,
        enable_SMTPUTF8=True,
    )


async def serve(listen: tuple[str, int], layer: str, upstream: Upstream, shared: bool) -> None:
    loop = asyncio.get_running_loop()
    factory = _factory(layer, upstream)
    server = await loop.create_server(factory, *listen, reuse_port=shared, backlog=1024)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()


def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", default="127.0.0.1:10026")
    parser.add_argument("--upstream", default="127.0.0.1:40025")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--layer", choices=["protocol", "streams", "aiosmtpd", "gateway"], default="protocol"
    )
    args = parser.parse_args()
    children: list[int] = []
    for _ in range(args.workers - 1):
        pid = os.fork()
        if pid == 0:
            children = []  # a worker stops only itself
            break
        children.append(pid)
    upstream = Upstream(*_hostport(args.upstream))
    try:
        uvloop.run(serve(_hostport(args.listen), args.layer, upstream, args.workers > 1))
    finally:
        for child in children:
            os.kill(child, signal.SIGTERM)
            os.waitpid(child, 0)


if __name__ == "__main__":
    main()
