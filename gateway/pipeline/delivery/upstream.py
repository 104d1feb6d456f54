"""Upstream SMTP: URL parsing and a small pool of reused connections (aiosmtplib has none)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aiosmtplib
from aiosmtplib import SMTPResponse
from aiosmtplib.protocol import normalize_message_line_endings

SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
WINDOW = 256 * 1024
"""Bytes of a large message dot-stuffed and handed to the transport at a time."""


@dataclass(frozen=True)
class UpstreamTarget:
    scheme: str  # smtp | smtp+starttls | smtps | outbox
    host: str = ""
    port: int = 0
    path: str = ""
    username: str | None = None
    password: str | None = None


def parse_upstream(
    url: str, username: str | None = None, password: str | None = None
) -> UpstreamTarget:
    """`smtp://host:port`, `smtp+starttls://`, `smtps://`, `outbox:DIR` (docs/design.md §7)."""
    if url.startswith("outbox:"):
        path = url.removeprefix("outbox:")
        if not path:
            raise ValueError("upstream.url: outbox: needs a directory")
        return UpstreamTarget("outbox", path=path)
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ValueError(
            f"upstream.url: {url!r} is not smtp://, smtp+starttls://, smtps:// or outbox:DIR"
        )
    return UpstreamTarget(
        parts.scheme,
        host=parts.hostname,
        port=parts.port or SCHEMES[parts.scheme],
        username=username or (unquote(parts.username) if parts.username else None),
        password=password or (unquote(parts.password) if parts.password else None),
    )


class UpstreamPool:
    """Keeps up to `size` authenticated connections open; a borrower gets one to itself."""

    def __init__(
        self,
        target: UpstreamTarget,
        *,
        size: int,
        local_hostname: str,
        timeout: float,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._target = target
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots = asyncio.Semaphore(size)
        self._local_hostname = local_hostname
        self._timeout = timeout
        self._tls = tls_context or ssl.create_default_context()

    @asynccontextmanager
    async def connection(self, *, fresh: bool = False) -> AsyncIterator[aiosmtplib.SMTP]:
        """A connected client; it goes back to the pool only when the block ends cleanly."""
        async with self._slots:
            client = None if fresh or not self._idle else self._idle.pop()
            if client is None or not client.is_connected:
                client = await self._connect()
            try:
                yield client
            except BaseException:
                client.close()
                raise
            self._idle.append(client)

    async def _connect(self) -> aiosmtplib.SMTP:
        target = self._target
        client = aiosmtplib.SMTP(
            hostname=target.host,
            port=target.port,
            use_tls=target.scheme == "smtps",
            # STARTTLS is required for smtp+starttls:// (never silently skipped) and not
            # attempted opportunistically on smtp://, so the URL says exactly what happens.
            start_tls=target.scheme == "smtp+starttls",
            tls_context=self._tls if target.scheme != "smtp" else None,
            timeout=self._timeout,
            local_hostname=self._local_hostname,
        )
        await client.connect()
        if client.is_ehlo_or_helo_needed:  # `send` relies on the extensions being known
            await client.ehlo()
        if target.username:
            await client.login(target.username, target.password or "")
        return client

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            try:
                await asyncio.wait_for(client.quit(), 2)
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()


async def send(
    client: aiosmtplib.SMTP,
    sender: str,
    recipients: list[str],
    content: Sequence[bytes],
    options: list[str],
) -> tuple[dict[str, SMTPResponse], str]:
    """`client.sendmail` for checked addresses and CRLF content, with the same results.

    Returns the refused recipients' replies and the reply to the data; raises aiosmtplib's
    exceptions as `sendmail` does. What it saves per message: two RFC 5322 address parses
    per address, a regex pass over the content to measure it for SIZE, and the three copies
    of the message aiosmtplib's `data()` makes (line endings, dot-stuffing, end mark):
    `content`'s pieces are sent as they are (issue 11). The pool closes the connection after
    an exception, so there is no RSET.
    """
    utf8 = "SMTPUTF8" in options
    if utf8 and not client.supports_extension("smtputf8"):
        raise aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server")
    encoding = "utf-8" if utf8 else "ascii"
    if not content or any(map(_not_lines, content)):  # never for mail of our own intake
        content = [normalize_message_line_endings(b"".join(content))]
    args = [b"FROM:<" + sender.encode(encoding) + b">"]
    if client.supports_extension("size"):
        size = sum(map(len, content))
        args.append(b"SIZE=%d" % size)  # RFC 1870: as sent, before dot-stuffing
    args += [option.encode("ascii") for option in options]
    reply = await client.execute_command(b"MAIL", *args)
    if reply.code != 250:
        raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, sender)
    refused = await _recipients(client, recipients, encoding)
    return refused, (await _data(client, content)).message


def _not_lines(piece: bytes) -> bool:
    """Whether `piece` is anything but whole CRLF lines (so the pieces cannot be sent as
    they are: a piece must start a line for dot-stuffing to see it)."""
    lines = piece.count(b"\r\n")
    return not piece.endswith(b"\r\n") or piece.count(b"\n") != lines or piece.count(b"\r") != lines


async def _data(client: aiosmtplib.SMTP, content: Sequence[bytes]) -> SMTPResponse:
    """DATA with `content` dot-stuffed a window at a time (RFC 5321 §4.5.2), each written
    once the transport has room, as aiosmtplib's `execute_data_command` does in one piece.
    Every piece ends a line (CRLF), so each starts one."""
    protocol = client.protocol
    if protocol is None or protocol._command_lock is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    try:
        async with protocol._command_lock:
            protocol._response_pending = True
            protocol.write(b"DATA\r\n")
            start = await protocol.read_response(timeout=client.timeout)
            if start.code != 354:  # RFC 5321 §4.3.2: 354 Start mail input
                raise aiosmtplib.SMTPDataError(start.code, start.message)
            protocol._response_pending = True
            for piece in content:
                for window in _stuffed(piece):
                    protocol.write(window)  # type: ignore[arg-type]  # any bytes-like
                    await protocol._drain_helper()
            protocol.write(b".\r\n")
            reply = await protocol.read_response(timeout=client.timeout)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        client.close()
        raise
    if reply.code != 250:
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)
    return reply


def _stuffed(piece: bytes) -> Iterator[bytes | memoryview]:
    """`piece` in windows of about WINDOW bytes cut after a line end; a window with a line
    that starts with a dot is the one copied, to double that dot."""
    view = memoryview(piece)
    start = 0
    while start < len(piece):
        end = piece.find(b"\n", min(start + WINDOW, len(piece)) - 1) + 1 or len(piece)
        if piece.startswith(b".", start) or piece.find(b"\n.", start, end) >= 0:
            window = piece[start:end]
            yield (b"." if window.startswith(b".") else b"") + window.replace(b"\n.", b"\n..")
        else:
            yield view[start:end]
        start = end


async def _recipients(
    client: aiosmtplib.SMTP, recipients: list[str], encoding: str
) -> dict[str, SMTPResponse]:
    refused = {}
    for address in recipients:
        reply = await client.execute_command(b"RCPT", b"TO:<" + address.encode(encoding) + b">")
        if reply.code not in (250, 251):
            refused[address] = reply
    if len(refused) == len(recipients):
        raise aiosmtplib.SMTPRecipientsRefused(
            [aiosmtplib.SMTPRecipientRefused(r.code, r.message, a) for a, r in refused.items()]
        )
    return refused
