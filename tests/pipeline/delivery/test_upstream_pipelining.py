"""MAIL and RCPTs in one write to an upstream that offers PIPELINING (RFC 2920), with its
replies read in order however they arrive, on asyncio's loop and on uvloop's."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiosmtplib
import pytest
import trustme

from gateway.pipeline.delivery.upstream import UpstreamPool, parse_upstream, send

BODY = (b"From: app@example.com\r\nSubject: hi\r\n\r\n", b"body\r\n.dot line\r\n")


@dataclass
class Pipelining:
    """An upstream that offers PIPELINING and answers the MAIL/RCPT group only once all of
    it has arrived (a client waiting for each reply would wait forever), one byte per write
    so that the replies come in many pieces."""

    group: int
    """MAIL plus the RCPTs the test sends: the commands answered together."""
    refuse: dict[str, bytes] = field(default_factory=dict)
    mail_reply: bytes = b"250 2.1.0 ok"
    hang_up_after: int | None = None
    """Close the connection after this many replies of the group."""
    connections: int = 0
    sessions: set[asyncio.Task[None]] = field(default_factory=set)
    delivered: list[tuple[list[str], bytes]] = field(default_factory=list)

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
        recipients: list[str] = []
        while line := await reader.readline():
            verb = line[:4].upper()
            if verb == b"EHLO":
                writer.write(b"250-upstream.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            elif verb in (b"MAIL", b"RCPT"):
                pending.append(self._reply(line, recipients))
                if len(pending) == self.group:
                    if not await self._trickle(writer, pending):
                        return
                    pending = []
            elif verb == b"DATA":
                writer.write(b"354 go ahead\r\n")
                data = await reader.readuntil(b"\r\n.\r\n")
                self.delivered.append((recipients, data))
                recipients = []
                writer.write(b"250 2.0.0 queued\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()

    def _reply(self, line: bytes, recipients: list[str]) -> bytes:
        if line.upper().startswith(b"MAIL"):
            return self.mail_reply
        address = line.split(b"<", 1)[1].split(b">", 1)[0].decode()
        if address in self.refuse:
            return self.refuse[address]
        recipients.append(address)
        return b"250 2.1.5 ok"

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


def _on_both_loops(upstream: Callable[[], Pipelining], scenario: Scenario) -> None:
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


def test_the_group_goes_in_one_write_and_each_recipient_gets_its_reply() -> None:
    async def scenario(upstream: Pipelining, pool: UpstreamPool) -> None:
        for _ in range(2):  # the second transaction reuses the connection
            async with pool.connection() as client:
                refused, reply = await send(
                    client, "app@example.com", ["a@x.test", "b@x.test", "c@x.test"], BODY, []
                )
            assert {a: (r.code, r.message) for a, r in refused.items()} == {
                "b@x.test": (550, "5.1.1 no such user"),
                "c@x.test": (450, "4.2.1 busy\nline two"),
            }
            assert reply == "2.0.0 queued"
        assert upstream.connections == 1
        assert [r for r, _ in upstream.delivered] == [["a@x.test"], ["a@x.test"]]
        assert upstream.delivered[0][1] == BODY[0] + b"body\r\n..dot line\r\n.\r\n"

    refusals = {
        "b@x.test": b"550 5.1.1 no such user",
        "c@x.test": b"450-4.2.1 busy\r\n450 line two",
    }
    _on_both_loops(lambda: Pipelining(group=4, refuse=refusals), scenario)


def test_all_recipients_refused_raises_with_each_reply() -> None:
    async def scenario(upstream: Pipelining, pool: UpstreamPool) -> None:
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as caught:
            async with pool.connection() as client:
                await send(client, "app@example.com", ["a@x.test", "b@x.test"], BODY, [])
        assert [(e.recipient, e.code) for e in caught.value.recipients] == [
            ("a@x.test", 550),
            ("b@x.test", 452),
        ]
        assert upstream.delivered == []

    refusals = {"a@x.test": b"550 5.1.1 no", "b@x.test": b"452 4.5.3 too many"}
    _on_both_loops(lambda: Pipelining(group=3, refuse=refusals), scenario)


def test_a_refused_sender_raises_and_the_connection_is_not_reused() -> None:
    async def scenario(upstream: Pipelining, pool: UpstreamPool) -> None:
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as caught:
            async with pool.connection() as client:
                await send(client, "app@example.com", ["a@x.test"], BODY, [])
        assert (caught.value.code, caught.value.sender) == (553, "app@example.com")
        upstream.mail_reply = b"250 ok"
        async with pool.connection() as client:
            await send(client, "app@example.com", ["a@x.test"], BODY, [])
        assert upstream.connections == 2
        assert [r for r, _ in upstream.delivered] == [["a@x.test"]]

    _on_both_loops(lambda: Pipelining(group=2, mail_reply=b"553 5.7.1 not you"), scenario)


def test_a_hang_up_between_replies_is_a_disconnection() -> None:
    async def scenario(upstream: Pipelining, pool: UpstreamPool) -> None:
        with pytest.raises(aiosmtplib.SMTPServerDisconnected):
            async with pool.connection() as client:
                await send(client, "app@example.com", ["a@x.test", "b@x.test"], BODY, [])
        assert not client.is_connected

    _on_both_loops(lambda: Pipelining(group=3, hang_up_after=1), scenario)
