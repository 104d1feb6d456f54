"""A stand-in upstream that offers PIPELINING (or not) on loopback, and what the tests of
delivery/upstream.py run it with: both event loops, plain TCP and TLS, the client's writes."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiosmtplib
import pytest
import trustme

from gateway.pipeline.delivery.upstream import UpstreamPool, parse_upstream

BODY = (b"From: app@example.com\r\nSubject: hi\r\n\r\n", b"body\r\n.dot line\r\n")
SENT = BODY[0] + b"body\r\n..dot line\r\n.\r\n"
"""BODY as it goes over the wire: dot-stuffed, with the end mark."""


@dataclass
class Transaction:
    sender: bool = False
    recipients: list[str] = field(default_factory=list)
    data: bool = False


@dataclass
class Pipelining:
    """An upstream that offers PIPELINING and answers the MAIL/RCPT/DATA group only once all
    of it has arrived (a client waiting for a reply before it sends DATA would wait forever),
    one byte per write so that the replies come in many pieces. Out of sequence, it answers
    as RFC 5321 §3.3 lets it: 503 to RCPT after a refused MAIL, 554 to DATA without an
    accepted RCPT."""

    group: int
    """MAIL, the RCPTs and DATA the test sends: the commands answered together."""
    refuse: dict[str, bytes] = field(default_factory=dict)
    mail_reply: bytes = b"250 2.1.0 ok"
    hang_up_after: int | None = None
    """Close the connection after this many replies of the group."""
    pipelining: bool = True
    accept_empty_data: bool = False
    """354 to DATA even with no recipient accepted: RFC 2920 §3.1 warns clients of it."""
    connections: int = 0
    sessions: set[asyncio.Task[None]] = field(default_factory=set)
    delivered: list[tuple[list[str], bytes]] = field(default_factory=list)
    ended_empty: list[bytes] = field(default_factory=list)
    """What came after a 354 to DATA with no recipient accepted."""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.sessions.add(task)
        try:
            await self._session(reader, writer)
        except ConnectionError:
            pass  # the client went away (the tests where it gives up)
        finally:
            writer.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(b"220 upstream.test ESMTP\r\n")
        pending: list[bytes] = []
        transaction = Transaction()
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"EHLO":
                offer = b"250-PIPELINING\r\n" if self.pipelining else b""
                writer.write(b"250-upstream.test\r\n" + offer + b"250 8BITMIME\r\n")
            elif verb in (b"MAIL", b"RCPT", b"DATA"):
                pending.append(self._reply(line, transaction))
                if len(pending) < self.group:
                    continue
                if not await self._trickle(writer, pending):
                    return
                pending = []
                if transaction.data and not await self._take_data(reader, writer, transaction):
                    return
                transaction.data = False
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                break
            else:
                transaction = Transaction()  # RSET, NOOP
                writer.write(b"250 ok\r\n")
            await writer.drain()

    def _reply(self, line: bytes, transaction: Transaction) -> bytes:
        verb = line[:4].upper()
        if verb == b"MAIL":
            transaction.sender = self.mail_reply.startswith(b"250")
            transaction.recipients = []
            return self.mail_reply
        if verb == b"DATA":
            transaction.data = bool(transaction.recipients) or self.accept_empty_data
            return b"354 go ahead" if transaction.data else b"554 5.5.1 no valid recipients"
        if not transaction.sender:
            return b"503 5.5.1 MAIL first"
        address = line.split(b"<", 1)[1].split(b">", 1)[0].decode()
        if address in self.refuse:
            return self.refuse[address]
        transaction.recipients.append(address)
        return b"250 2.1.5 ok"

    async def _take_data(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, transaction: Transaction
    ) -> bool:
        """The message up to its end mark's line (kept in it); False when the client left."""
        data = b""
        while line := await reader.readline():
            data += line
            if line == b".\r\n":
                break
        else:
            return False
        if transaction.recipients:
            self.delivered.append((transaction.recipients, data))
            writer.write(b"250 2.0.0 queued\r\n")
        else:
            self.ended_empty.append(data)
            writer.write(b"554 5.5.1 no valid recipients\r\n")
        return True

    async def _trickle(self, writer: asyncio.StreamWriter, replies: list[bytes]) -> bool:
        """Write the replies a byte at a time; False when it hung up instead."""
        for n, reply in enumerate(replies):
            if n == self.hang_up_after:
                writer.close()
                return False
            for byte in reply + b"\r\n":
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0)
        return True


Scenario = Callable[[Pipelining, UpstreamPool], Awaitable[None]]


async def _run(upstream: Pipelining, scenario: Scenario, tls: bool) -> None:
    """On plain TCP, or in TLS from the first byte (smtps://): the replies come through
    the TLS layer's own protocol then."""
    server_tls = client_tls = None
    if tls:
        authority = trustme.CA()
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        authority.issue_cert("127.0.0.1").configure_cert(server_tls)
        client_tls = ssl.create_default_context()
        authority.configure_trust(client_tls)
    server = await asyncio.start_server(upstream.serve, "127.0.0.1", 0, ssl=server_tls)
    port = server.sockets[0].getsockname()[1]
    target = parse_upstream(f"{'smtps' if tls else 'smtp'}://127.0.0.1:{port}")
    pool = UpstreamPool(
        target, size=1, local_hostname="gk.test", timeout=10, tls_context=client_tls
    )
    try:
        await scenario(upstream, pool)
    finally:
        await pool.close()
        server.close()
        await server.wait_closed()
        if upstream.sessions:  # each ends once its client has gone (bounded)
            await asyncio.wait(upstream.sessions, timeout=10)


def on_both_loops(upstream: Callable[[], Pipelining], scenario: Scenario) -> None:
    """The scenario on asyncio's event loop, then on uvloop's when it is installed (the
    gateway runs on it: its transports take a new protocol their own way), each without
    and with TLS."""
    factories: list[Callable[[], asyncio.AbstractEventLoop]] = [asyncio.new_event_loop]
    try:
        import uvloop
    except ImportError:
        pass
    else:
        factories.append(uvloop.new_event_loop)
    for factory in factories:
        for tls in (False, True):
            with asyncio.Runner(loop_factory=factory) as runner:
                runner.run(_run(upstream(), scenario, tls))


def recorded(client: aiosmtplib.SMTP, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """What the client hands its transport from now on, a write (one send()) an item."""
    protocol = client.protocol
    assert protocol is not None
    writes: list[bytes] = []
    write = protocol.write

    def recording(data: bytes) -> None:
        writes.append(bytes(data))
        write(data)

    monkeypatch.setattr(protocol, "write", recording)
    return writes
