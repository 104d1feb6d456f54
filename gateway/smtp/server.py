"""SMTP protocol details on top of aiosmtpd, kept apart from the handler's decisions.

- DATA is read in large chunks up to the end-of-data mark, not line by line (the line loop is
  the slowest part of aiosmtpd's intake), and checked as a whole for bare CR/LF.
- Every 2xx/4xx/5xx reply carries an RFC 3463 enhanced status code.
- AUTH password checks run off the event loop.
- The tables of `smtp_*`, `auth_*` and `handle_*` methods are found once per class, not by
  scanning every new connection with `inspect.getmembers`/`dir` as aiosmtpd does.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import socket
import ssl
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from aiosmtpd.smtp import (
    DATA_SIZE_DEFAULT,
    SMTP,
    AuthResult,
    LoginPassword,
    Session,
    _AuthMechAttr,
    login_always_fail,
    make_loop,
    syntax,
)
from aiosmtpd.smtp import __ident__ as AIOSMTPD_IDENT

from gateway.config import SmtpUser
from gateway.pipeline import replies
from gateway.pipeline.transaction import Transaction
from gateway.smtp.auth import Authenticator

END_OF_DATA = b"\r\n.\r\n"
CHUNK = 256 * 1024
MAX_LINE = 998
"""RFC 5322 §2.1.1: a line is at most 998 characters, CRLF excluded."""

# RFC 3463 codes for replies written without one (aiosmtpd's own, mostly).
# fmt: off
_DEFAULT_ENHANCED = {
    "221": "2.0.0", "235": "2.7.0", "250": "2.0.0", "251": "2.1.5", "252": "2.5.0",
    "421": "4.3.0", "450": "4.2.0", "451": "4.3.0", "452": "4.3.1", "454": "4.7.0",
    "500": "5.5.2", "501": "5.5.4", "502": "5.5.1", "503": "5.5.1", "504": "5.5.4",
    "530": "5.7.0", "534": "5.7.9", "535": "5.7.8", "538": "5.7.11", "550": "5.0.0",
    "552": "5.3.4", "553": "5.1.3", "554": "5.0.0", "555": "5.5.4",
}
# fmt: on
_HAS_ENHANCED = re.compile(r"^\d{3}[ -][245]\.\d{1,3}\.\d{1,3}(?: |$)")
_SIMPLE_PATH = re.compile(r"\s*<([^<>\s\"\\(),;:@]+@[^<>\s\"\\(),;:@]+)>(.*)", re.S)
_PENDING = "pending-verification"


class GatewaySession(Session):
    """aiosmtpd's Session as the pipeline's `Client`, holding the transaction under way."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.id = uuid.uuid4().hex[:16]
        """Ties the session's decisions together."""
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


class GatewaySMTP(SMTP):
    def __init__(
        self,
        handler: Any,
        *,
        authenticator: Authenticator,
        on_close: Callable[[GatewaySMTP], None] | None = None,
        **kwargs: Any,
    ) -> None:
        self._init_smtp(handler, **kwargs)
        self._verifier = authenticator
        self._on_close = on_close
        self._bare_replies = False

    def _init_smtp(
        self,
        handler: Any,
        *,
        data_size_limit: int | None = DATA_SIZE_DEFAULT,
        enable_SMTPUTF8: bool = False,
        decode_data: bool = False,
        hostname: str | None = None,
        ident: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        require_starttls: bool = False,
        timeout: float = 300,
        auth_required: bool = False,
        auth_require_tls: bool = True,
        auth_exclude_mechanism: Iterable[str] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        """aiosmtpd 1.4.6's `SMTP.__init__` for the options the gateway uses, minus the scans.

        Its per-connection `inspect.getmembers`/`dir` calls cost ~100 µs, a tenth of the
        event loop's time per message; `_method_names` does that work once per class. Left
        out as well: its warnings about TLS and AUTH settings that `gateway.app` never makes.
        """
        self.__ident__ = ident or AIOSMTPD_IDENT
        self.loop = loop or make_loop()
        asyncio.StreamReaderProtocol.__init__(
            self,
            asyncio.StreamReader(loop=self.loop, limit=self.line_length_limit),
            client_connected_cb=self._cb_client_connected,
            loop=self.loop,
        )
        self.event_handler = handler
        self.data_size_limit = data_size_limit
        self.enable_SMTPUTF8 = enable_SMTPUTF8
        self._decode_data = decode_data
        self.command_size_limits.clear()
        self.hostname = hostname or socket.getfqdn()
        self.tls_context = tls_context
        self.require_starttls = tls_context and require_starttls
        self._timeout_duration = timeout
        self._timeout_handle = None
        self._tls_handshake_okay = True
        self._tls_protocol = None
        self._original_transport = None
        self.session = None
        self.envelope = None
        self.transport = None
        self._handler_coroutine = None
        self._auth_require_tls = auth_require_tls
        self._proxy_timeout = None
        self._authenticator = None
        self._auth_callback = login_always_fail
        self._auth_required = auth_required
        self._enforce_call_limit = False
        self._auth_methods = self._bind_auth_methods(handler, auth_exclude_mechanism or ())
        self._handle_hooks = {
            name[7:]: getattr(handler, name) for name in _method_names(type(handler), "handle_")
        }
        self._ehlo_hook_ver = None if "EHLO" not in self._handle_hooks else _ehlo_version(handler)
        self._smtp_methods = {
            name[5:]: getattr(self, name) for name in _method_names(type(self), "smtp_")
        }

    def _bind_auth_methods(self, handler: Any, excluded: Iterable[str]) -> dict[str, _AuthMechAttr]:
        methods = {
            _mechanism(name, method): _AuthMechAttr(method, obj is self)
            for obj in (self, handler)
            for name in _method_names(type(obj), "auth_")
            for method in (getattr(obj, name),)
        }
        for mechanism in excluded:
            methods.pop(mechanism, None)
        return methods

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self._on_close is not None:
            self._on_close(self)

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

    async def smtp_EHLO(self, hostname: str) -> None:
        # RFC 2034 §4: no enhanced codes in the greeting or in HELO/EHLO replies.
        self._bare_replies = True
        try:
            await super().smtp_EHLO(hostname)
        finally:
            self._bare_replies = False

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
        user = await self._verifier.verify(name, password)
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
        data, size = await self._read_data()
        problem = data_problem(data, size, self.data_size_limit)
        if problem:
            self._set_post_data_state()
            await self.push(problem)
            return
        assert data is not None
        self.envelope.content = self.envelope.original_content = data
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(replies.DATA_OK if status is None else status)

    async def _read_data(self) -> tuple[bytes | None, int]:
        """Bytes up to the end-of-data mark, dot-unstuffed (RFC 5321 §4.5.2), and their size.

        Over the size limit the data is None; the rest is still read and dropped so that the
        reply comes after the client has sent everything (RFC 5321 §4.2.5).
        """
        limit = self.data_size_limit or 0
        # A leading CRLF lets the first line's dot and an empty message match like the rest.
        buffer = bytearray(b"\r\n")
        dropped = 0
        start = 0
        while (found := buffer.find(END_OF_DATA, start)) < 0:
            chunk = await self._reader.read(CHUNK)
            if not chunk:
                raise ConnectionResetError("client went away during DATA")
            if limit and dropped + len(buffer) > limit + 2:
                # Over the limit: keep only a tail long enough to spot the end mark.
                dropped += len(buffer) - 4
                del buffer[:-4]
            start = max(len(buffer) - 4, 0)
            buffer += chunk
        self._unread(buffer[found + len(END_OF_DATA) :])
        size = dropped + found
        if limit and size > limit:
            return None, size
        body = bytes(buffer[: found + 2])  # still led by the CRLF, so line 1 unstuffs too
        if b"\r\n." in body:
            body = body.replace(b"\r\n..", b"\r\n.")
        return body[2:], size

    def _unread(self, excess: bytearray) -> None:
        """Give back pipelined commands read past the end of DATA (RFC 2920).

        asyncio's StreamReader has no unread; its buffer is a plain bytearray.
        """
        if excess:
            self._reader._buffer[:0] = excess  # type: ignore[attr-defined]


_METHOD_NAMES: dict[tuple[type, str], tuple[str, ...]] = {}


def _method_names(cls: type, prefix: str) -> tuple[str, ...]:
    names = _METHOD_NAMES.get((cls, prefix))
    if names is None:
        names = _METHOD_NAMES[cls, prefix] = tuple(n for n in dir(cls) if n.startswith(prefix))
    return names


def _mechanism(name: str, method: Any) -> str:
    return getattr(method, "__auth_mechanism_name__", name.replace("auth_", "").replace("__", "-"))


def _ehlo_version(handler: Any) -> str:
    arity = len(inspect.signature(handler.handle_EHLO).parameters)
    if arity not in (4, 5):
        raise RuntimeError("Unsupported EHLO Hook")
    return "old" if arity == 4 else "new"


def data_problem(data: bytes | None, size: int, limit: int | None) -> str | None:
    """The reply for a message that cannot be accepted, or None."""
    if data is None:
        return replies.too_big(limit)
    if b"\x00" in data:
        return replies.NUL_IN_MESSAGE
    lines = data.count(b"\n")
    if data.count(b"\r\n") != lines or data.count(b"\r") != lines:
        return replies.BARE_LINE_END
    if len(data) > MAX_LINE and max(map(len, data.split(b"\r\n"))) > MAX_LINE:
        return replies.line_too_long(MAX_LINE)
    return None


def with_enhanced_code(status: str) -> str:
    code = status[:3]
    enhanced = _DEFAULT_ENHANCED.get(code)
    if enhanced is None or _HAS_ENHANCED.match(status) or len(status) < 4:
        return status
    return f"{status[:4]}{enhanced} {status[4:]}"
