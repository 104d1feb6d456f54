"""Upstream SMTP: URL parsing and a small pool of reused connections (aiosmtplib has none)."""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import cast
from urllib.parse import unquote, urlsplit

import aiosmtplib
from aiosmtplib import SMTPResponse
from aiosmtplib.protocol import normalize_message_line_endings

SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
WINDOW = 256 * 1024
"""Bytes of a large message dot-stuffed and handed to the transport at a time."""
MAX_REPLY = 64 * 1024
"""Bytes of pipelined replies taken before they are refused as too long."""
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


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
    `content`'s pieces are sent as they are (issue 11). An upstream that offers PIPELINING
    gets MAIL, every RCPT and DATA in one write (one round trip instead of one per command);
    a message shorter than WINDOW then goes with its end mark in one more. The pool closes
    the connection after an exception, so there is no RSET.
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
    if client.supports_extension("pipelining"):
        rcpts = [b"RCPT TO:<" + a.encode(encoding) + b">" for a in recipients]
        group = [b"MAIL " + b" ".join(args), *rcpts]
        return await _send_grouped(client, sender, recipients, group, content)
    _sender_accepted(await client.execute_command(b"MAIL", *args), sender)
    answers = [await _recipient(client, address, encoding) for address in recipients]
    refused = _refused(recipients, answers)
    start = await client.execute_command(b"DATA")
    if start.code != 354:  # RFC 5321 §4.3.2: 354 Start mail input
        raise aiosmtplib.SMTPDataError(start.code, start.message)
    return refused, (await _content(client, content)).message


async def _send_grouped(
    client: aiosmtplib.SMTP,
    sender: str,
    recipients: list[str],
    commands: list[bytes],
    content: Sequence[bytes],
) -> tuple[dict[str, SMTPResponse], str]:
    """MAIL and the RCPTs (`commands`) with DATA at the end of the group, which RFC 2920 §3.1
    allows, then the content. Every reply of the group is read before any is acted on, so
    that the connection stays in step whatever was refused."""
    mail, *answers, start = await _pipelined(client, [*commands, b"DATA"])
    try:
        _sender_accepted(mail, sender)
        refused = _refused(recipients, answers)
    except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPRecipientsRefused):
        if start.code == 354:
            await _end_empty(client)
        raise
    if start.code != 354:  # RFC 5321 §4.3.2: 354 Start mail input
        raise aiosmtplib.SMTPDataError(start.code, start.message)
    return refused, (await _content(client, content)).message


async def _end_empty(client: aiosmtplib.SMTP) -> None:
    """RFC 2920 §3.1: the server may accept DATA although MAIL or every RCPT was refused
    ("the client cannot assume that the DATA command will be rejected"); the client then
    sends a single dot, so that there is no message, and reads its reply in turn. The
    refusal is still what the caller gets, whatever happens to the dot."""
    if not client.is_connected:
        return  # closed after a 421 in the group (RFC 5321 §3.8): nothing to end
    try:
        await _content(client, ())
    except aiosmtplib.SMTPDataError:
        pass  # the dot refused: its reply was read, the connection is in step
    except (aiosmtplib.SMTPException, OSError):
        client.close()  # where the server is in the dialogue is not known


def _sender_accepted(reply: SMTPResponse, sender: str) -> None:
    if reply.code != 250:
        raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, sender)


def _not_lines(piece: bytes) -> bool:
    """Whether `piece` is anything but whole CRLF lines (so the pieces cannot be sent as
    they are: a piece must start a line for dot-stuffing to see it)."""
    lines = piece.count(b"\r\n")
    return not piece.endswith(b"\r\n") or piece.count(b"\n") != lines or piece.count(b"\r") != lines


async def _content(client: aiosmtplib.SMTP, content: Sequence[bytes]) -> SMTPResponse:
    """`content` after a 354, written as `_writes` cuts it, each write once the transport
    has room, as aiosmtplib's `execute_data_command` does in one piece; then its reply."""
    protocol = client.protocol
    if protocol is None or protocol._command_lock is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    try:
        async with protocol._command_lock:
            protocol._response_pending = True
            for data in _writes(content):
                protocol.write(data)  # type: ignore[arg-type]  # any bytes-like
                await protocol._drain_helper()
            reply = await protocol.read_response(timeout=client.timeout)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        client.close()
        raise
    if reply.code != 250:
        raise aiosmtplib.SMTPDataError(reply.code, reply.message)
    return reply


def _writes(content: Sequence[bytes]) -> Iterator[bytes | memoryview]:
    """`content` dot-stuffed (RFC 5321 §4.5.2) and ended with a line of a lone dot, which
    makes the end mark CRLF.CRLF (§4.1.1.4) since every piece ends a line, so each starts one.
    Windows shorter than WINDOW are joined, so that a small message (its pieces and the end
    mark) costs one send(); a full window goes as it is, so that a large message is never
    copied whole: only its last window is, to join the end mark."""
    pending: list[bytes | memoryview] = []
    size = 0
    for piece in content:
        for window in _stuffed(piece):
            if pending and size + len(window) > WINDOW:
                yield _joined(pending)
                pending, size = [], 0
            pending.append(window)
            size += len(window)
    pending.append(b".\r\n")
    yield _joined(pending)


def _joined(parts: list[bytes | memoryview]) -> bytes | memoryview:
    return parts[0] if len(parts) == 1 else b"".join(parts)


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


async def _recipient(client: aiosmtplib.SMTP, address: str, encoding: str) -> SMTPResponse:
    return await client.execute_command(b"RCPT", b"TO:<" + address.encode(encoding) + b">")


def _refused(recipients: list[str], replies: list[SMTPResponse]) -> dict[str, SMTPResponse]:
    """The refused recipients' replies; SMTPRecipientsRefused when all were refused."""
    refused = {a: r for a, r in zip(recipients, replies, strict=True) if r.code not in (250, 251)}
    if len(refused) == len(recipients):
        raise aiosmtplib.SMTPRecipientsRefused(
            [aiosmtplib.SMTPRecipientRefused(r.code, r.message, a) for a, r in refused.items()]
        )
    return refused


async def _pipelined(client: aiosmtplib.SMTP, commands: list[bytes]) -> list[SMTPResponse]:
    """`commands` written at once, their replies read in order (RFC 2920), with what
    aiosmtplib's `execute_command` does around one: control characters refused, the
    connection closed after a timeout, a disconnection or a 421."""
    if any(_CONTROL.search(command) for command in commands):
        raise ValueError("Command arg contains a prohibited control character")
    protocol = client.protocol
    if protocol is None or protocol._command_lock is None or protocol.transport is None:
        raise aiosmtplib.SMTPServerDisconnected("Server not connected")
    transport = cast(asyncio.Transport, protocol.transport)
    async with protocol._command_lock:
        replies = PipelinedReplies(protocol, len(commands))
        transport.set_protocol(replies)
        try:
            protocol.write(b"".join(command + b"\r\n" for command in commands))
            answers = await asyncio.wait_for(replies.done, client.timeout)
        except TimeoutError as exc:
            client.close()
            raise aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response") from exc
        except aiosmtplib.SMTPException:
            client.close()
            raise
        finally:
            if not transport.is_closing():
                transport.set_protocol(protocol)
    if any(answer.code == 421 for answer in answers):  # RFC 5321 §3.8: it is closing
        client.close()
    return answers


class PipelinedReplies(asyncio.Protocol):
    """Stands in for aiosmtplib's protocol on the transport while the replies to pipelined
    commands come in: aiosmtplib reads one reply per command written and drops what arrives
    before it asks for the next. Flow control and the end of the connection still reach it."""

    def __init__(self, inner: asyncio.BaseProtocol, count: int) -> None:
        self._inner = inner
        self._count = count
        self._buffer = bytearray()
        self._replies: list[SMTPResponse] = []
        self.done: asyncio.Future[list[SMTPResponse]] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        if self.done.done():
            return  # nothing more was asked
        self._buffer += data
        while len(self._replies) < self._count and (reply := _take_reply(self._buffer)):
            self._replies.append(reply)
        if len(self._replies) == self._count:
            self.done.set_result(self._replies)
        elif len(self._buffer) > MAX_REPLY:
            self._fail(aiosmtplib.SMTPResponseException(500, "Response too long"))

    def eof_received(self) -> bool:
        self._fail(aiosmtplib.SMTPServerDisconnected("Unexpected EOF received"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(aiosmtplib.SMTPServerDisconnected("Connection lost"))
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def _fail(self, exc: Exception) -> None:
        if not self.done.done():
            self.done.set_exception(exc)


def _take_reply(buffer: bytearray) -> SMTPResponse | None:
    """The first whole reply in `buffer`, taken out of it (`250-…` lines continue one)."""
    lines: list[bytes] = []
    start = 0
    while (end := buffer.find(b"\n", start)) >= 0:
        line = bytes(buffer[start : end + 1])
        start = end + 1
        if not line[:3].isdigit():
            raise aiosmtplib.SMTPResponseException(500, f"Malformed SMTP response line: {line!r}")
        lines.append(line[4:].strip(b" \t\r\n"))
        if line[3:4] != b"-":
            del buffer[:start]
            text = b"\n".join(lines).decode("utf-8", "surrogateescape")
            return SMTPResponse(int(line[:3]), text)
    return None
