"""SMTP protocol details on top of aiosmtpd, kept apart from the handler's decisions.

- DATA is read in large chunks up to the end-of-data mark, held once, and checked as a whole
  for bare CR/LF (gateway/smtp/data.py).
- Limits (issue 11): sessions overall and per client address (gateway/smtp/limits.py),
  first-command, idle and session timeouts (gateway/smtp/clock.py), commands per session
  (gateway/smtp/commands.py); each answered with a 421 before the close.
- Every 2xx/4xx/5xx reply carries an RFC 3463 enhanced status code.
- AUTH password checks run off the event loop.
- Underneath, aiosmtpd's protocol with a lean per-connection set-up and command loop
  (gateway/smtp/protocol.py).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Callable
from typing import Any, cast

from aiosmtpd.smtp import AuthResult, LoginPassword, Session, syntax

from gateway.config import SmtpUser
from gateway.pipeline import replies
from gateway.pipeline.transaction import Transaction
from gateway.smtp import resources
from gateway.smtp.auth import Authenticator, AuthRefused
from gateway.smtp.clock import SessionClock
from gateway.smtp.commands import CommandCount
from gateway.smtp.data import read_data
from gateway.smtp.enhanced import with_enhanced_code
from gateway.smtp.limits import SessionLimits, peer_host
from gateway.smtp.protocol import LeanSMTP
from gateway.smtp.tls import implicit_tls

log = logging.getLogger(__name__)

TRIM_AFTER = 1024 * 1024
"""A message at least this large is followed by malloc_trim (gateway/smtp/resources.py)."""
TRIM_DELAY = 3.0

_SIMPLE_PATH = re.compile(r"\s*<([^<>\s\"\\(),;:@]+@[^<>\s\"\\(),;:@]+)>(.*)", re.S)
_PENDING = "pending-verification"


class GatewaySession(Session):
    """aiosmtpd's Session as the pipeline's `Client`, holding the transaction under way."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.id = f"{random.getrandbits(64):016x}"
        """Ties the session's decisions together; it names, it guards nothing, so the fast
        PRNG serves (uuid4 is a system call and an object, for every connection)."""
        self.user: SmtpUser | None = None
        self.transaction: Transaction | None = None
        """Begun by an accepted MAIL (Handler.handle_MAIL), ended with the envelope."""
        self.typed_path = ""
        """The last MAIL or RCPT path as the client typed it (GatewaySMTP._getaddr)."""

    @property
    def address(self) -> str:
        """`host:port` of the peer, `[v6]:port` for IPv6."""
        peer = self.peer
        if isinstance(peer, tuple) and len(peer) >= 2:
            host = str(peer[0])
            return f"[{host}]:{peer[1]}" if ":" in host else f"{host}:{peer[1]}"
        return str(peer or "")


class GatewaySMTP(LeanSMTP):
    def __init__(
        self,
        handler: Any,
        *,
        authenticator: Authenticator,
        limits: SessionLimits,
        on_close: Callable[[GatewaySMTP], None] | None = None,
        **kwargs: Any,
    ) -> None:
        self._init_smtp(handler, **kwargs)
        self._verifier = authenticator
        self._limits = limits
        self._on_close = on_close
        self._bare_replies = False
        self._client_host: str | None = None
        """Set once admitted: the address its session counts against."""
        self._clock: SessionClock | None = None
        self._count = CommandCount(limits.config)

    # -- admission and timeouts ------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._original_transport is not None:  # STARTTLS: the same session, now in TLS
            super().connection_made(transport)
            return
        peer = transport.get_extra_info("peername")
        host = peer_host(peer)
        refusal = self._limits.admit(host)
        if refusal is not None:  # RFC 5321 §3.8: 421 as the greeting, then close
            cast(asyncio.Transport, transport).write(refusal.encode() + b"\r\n")
            transport.close()
            return
        self._client_host = host
        self._clock = SessionClock(self.loop, self._limits.config, self._expire)
        super().connection_made(transport)
        implicit_tls(self, transport)  # smtp.tls_listen: in TLS from the first byte

    def connection_lost(self, exc: Exception | None) -> None:
        if self._client_host is None:  # refused at the door: no aiosmtpd session to end
            asyncio.StreamReaderProtocol.connection_lost(self, exc)
        else:
            self._limits.release(self._client_host)
            self._client_host = None
            super().connection_lost(exc)
        if self._on_close is not None:
            self._on_close(self)

    def data_received(self, data: bytes) -> None:
        if self._clock is not None:
            self._clock.touch()  # idleness is time without a byte, in every phase
        super().data_received(data)

    def _reset_timeout(self, duration: float | None = None) -> None:
        """aiosmtpd's per-command timer, replaced by the session's clock."""
        if self._clock is not None:
            self._timeout_handle = self._clock  # type: ignore[assignment]  # .cancel() at close
            self._clock.touch()

    def _expire(self, reply: str) -> None:
        """A timeout: the 421 if the client still reads, then close (RFC 5321 §4.2.4)."""
        # a cast, not isinstance: uvloop's transports are not asyncio's classes
        transport = cast(asyncio.Transport | None, self.transport)
        if transport is None or transport.is_closing():
            return
        log.info("SMTP session %s closed: %s", self._client_host, reply)
        if transport.get_write_buffer_size():  # it reads nothing: do not wait for it
            transport.abort()
            return
        transport.write(reply.encode() + b"\r\n")
        transport.close()

    def _command_refusal(self, command: str, arg: str | None) -> tuple[str, bool] | None:
        refusal = self._count.refusal(command, arg)
        if self._clock is not None:
            self._clock.commanded = True
        if refusal is not None and refusal[1]:
            log.info("SMTP session %s closed: %s", self._client_host, refusal[0])
        return refusal

    async def _call_handler_hook(self, command: str, *args: Any) -> Any:
        if self._clock is None:
            return await super()._call_handler_hook(command, *args)
        with self._clock.busy():
            return await super()._call_handler_hook(command, *args)

    def _create_session(self) -> Session:
        return GatewaySession(self.loop)

    def _set_post_data_state(self) -> None:
        """A new envelope (after DATA, at RSET, HELO/EHLO, STARTTLS) ends the transaction."""
        super()._set_post_data_state()
        if isinstance(self.session, GatewaySession):
            self.session.transaction = None

    # -- replies ---------------------------------------------------------------------------
    async def push(self, status: str) -> None:  # type: ignore[override]
        await super().push(status if self._bare_replies else with_enhanced_code(status))

    @syntax("EHLO hostname")  # aiosmtpd's, which HELP lists
    async def smtp_EHLO(self, hostname: str) -> None:
        # RFC 2034 §4: no enhanced codes in the greeting or in HELO/EHLO replies.
        self._bare_replies = True
        try:
            await super().smtp_EHLO(hostname)
        finally:
            self._bare_replies = False

    @syntax("HELO hostname")
    async def smtp_HELO(self, hostname: str) -> None:
        self._bare_replies = True
        try:
            await super().smtp_HELO(hostname)
        finally:
            self._bare_replies = False

    # -- addresses -------------------------------------------------------------------------
    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """The common `<user@host>` form without the (slow) RFC 5322 header parser.

        The path as the client typed it is kept in `session.typed_path`: a refusal records
        that, not the parser's rewriting of it. A path the parser cannot read goes to the
        handler as typed, whose address check refuses it with a decision row, instead of
        aiosmtpd's own unrecorded `553 malformed address`."""
        assert isinstance(self.session, GatewaySession)
        match = _SIMPLE_PATH.match(arg)
        if match:
            self.session.typed_path = match.group(1)
            return match.group(1), match.group(2)
        address, rest = super()._getaddr(arg)
        typed = arg[: len(arg) - len(rest)] if rest else arg
        typed = typed.strip()
        if typed.startswith("<") and typed.endswith(">"):
            typed = typed[1:-1]
        self.session.typed_path = typed
        if address is None:
            return typed or arg, ""
        return address, rest

    # -- AUTH ------------------------------------------------------------------------------
    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg: str) -> None:
        # RFC 4954 §4 (aiosmtpd lets it through): no AUTH within a mail transaction, so the
        # login a transaction began under is the one its decisions name.
        if self.envelope is not None and self.envelope.mail_from:
            await self.push(replies.AUTH_IN_TRANSACTION)
            return
        await super().smtp_AUTH(arg)

    def _authenticate(self, mechanism: str, auth_data: Any) -> AuthResult:
        # aiosmtpd calls this synchronously; the slow hash check happens in _verified.
        return AuthResult(success=False, handled=False, message=_PENDING, auth_data=auth_data)

    async def auth_PLAIN(self, _: Any, args: list[str]) -> AuthResult:
        return await self._verified(await super().auth_PLAIN(_, args))

    async def auth_LOGIN(self, _: Any, args: list[str]) -> AuthResult:
        return await self._verified(await super().auth_LOGIN(_, args))

    async def _verified(self, result: AuthResult) -> AuthResult:
        if result.message != _PENDING:
            return result
        credentials = result.auth_data
        assert isinstance(credentials, LoginPassword)
        try:
            name = credentials.login.decode()
            password = credentials.password.decode()
        except UnicodeDecodeError:
            return AuthResult(success=False, handled=False)
        try:
            peer = self.session.peer if self.session is not None else None
            user = await self._verifier.verify(name, password, peer)
        except AuthRefused as refused:  # 454 busy, or 421 after too many failures
            if not refused.close:
                return AuthResult(success=False, handled=False, message=refused.reply)
            await self.push(refused.reply)
            assert self.transport is not None
            self.transport.close()
            return AuthResult(success=False, handled=True)
        if user is None:
            return AuthResult(success=False, handled=False)
        assert isinstance(self.session, GatewaySession)
        self.session.user = user
        return AuthResult(success=True, auth_data=name)

    # -- DATA ------------------------------------------------------------------------------
    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push(replies.NEED_RCPT)
            return
        if arg:
            await self.push(replies.DATA_SYNTAX)
            return
        await self.push(replies.START_DATA)
        limit = self._data_limit()
        read = await read_data(self._reader, limit, self._limits)
        try:
            if read.refusal or read.data is None:
                self._set_post_data_state()
                await self.push(read.refusal or self._too_big(limit))
                return
            self.envelope.content = self.envelope.original_content = read.data
            del read.data  # the envelope's reference is the one; dropped at the next line
            status = await self._call_handler_hook("DATA")
            self._set_post_data_state()
        finally:
            self._limits.unreserve(read.reserved)
        if read.size >= TRIM_AFTER:  # once spool and delivery have let go of their copies
            self.loop.call_later(TRIM_DELAY, resources.trim)
        await self.push(replies.DATA_OK if status is None else status)

    def _too_big(self, limit: int) -> str:
        if self.data_size_limit and limit < self.data_size_limit:
            return replies.mailbox_too_big(limit)
        return replies.too_big(limit)

    def _data_limit(self) -> int:
        """The handler's limit for this envelope (its own mailboxes take small messages)."""
        limit = self.data_size_limit or 0
        choose = getattr(self.event_handler, "data_limit", None)
        if choose is not None:
            limit = int(choose(self.session, self.envelope, limit))
        return limit
