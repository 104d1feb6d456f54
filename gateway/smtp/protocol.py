"""aiosmtpd's SMTP protocol with its per-connection set-up and command loop made lean.

Every relayed message is a connection of its own for most clients (smtp-source, cron
scripts, many apps), so what aiosmtpd does per connection and per command is paid on the
path of every message (issue 14, docs/performance.md):

- its `__init__` scans the handler and the protocol with `inspect.getmembers`/`dir` and
  binds every `smtp_*`, `auth_*` and `handle_*` method; here the names are found once per
  class (gateway/smtp/methods.py), the handler's hooks are bound once per handler, and the
  AUTH table is bound only when EHLO or AUTH asks for it;
- its command loop sanitizes and formats two log lines per command whatever the log level,
  and finds each command in a table of bound methods made per connection; here the loop
  looks commands up in a table per class and logs only at DEBUG.

The behaviour is aiosmtpd 1.4.6's, reply for reply; what the gateway leaves out is named
where it is left out (no PROXY protocol, no per-command call limits: `gateway.app` never
turns them on; the gateway's own command limits are `_command_refusal`).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
import ssl
import weakref
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import Any

from aiosmtpd.smtp import (
    ALLOWED_BEFORE_STARTTLS,
    BOGUS_LIMIT,
    DATA_SIZE_DEFAULT,
    SMTP,
    TLSSetupException,
    _AuthMechAttr,
    login_always_fail,
    syntax,
)
from aiosmtpd.smtp import __ident__ as AIOSMTPD_IDENT

from gateway.smtp.methods import ehlo_version, mechanism, method_names

log = logging.getLogger("mail.log")  # aiosmtpd's logger: its messages, under its name

Command = Callable[[Any, str | None], Any]

_COMMANDS: dict[type, dict[str, Command]] = {}
_HOOKS: weakref.WeakKeyDictionary[Any, dict[str, Callable[..., Any]]] = weakref.WeakKeyDictionary()


def _commands(cls: type) -> dict[str, Command]:
    """`smtp_*` functions of a class by command name, looked up once per class."""
    table = _COMMANDS.get(cls)
    if table is None:
        table = _COMMANDS[cls] = {n[5:]: getattr(cls, n) for n in method_names(cls, "smtp_")}
    return table


def _hooks(handler: Any) -> dict[str, Callable[..., Any]]:
    """The handler's `handle_*` hooks, bound once per handler: every session shares it."""
    hooks = _HOOKS.get(handler)
    if hooks is None:
        names = method_names(type(handler), "handle_")
        hooks = _HOOKS[handler] = {n[7:]: getattr(handler, n) for n in names}
    return hooks


class LeanSMTP(SMTP):
    _auth_excluded: tuple[str, ...] = ()

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
        """aiosmtpd 1.4.6's `SMTP.__init__` for the options the gateway uses, minus the
        scans, and minus its warnings about TLS and AUTH settings `gateway.app` never makes."""
        self.__ident__ = ident or AIOSMTPD_IDENT
        # aiosmtpd's make_loop() sets a process-wide warnings filter ("error") for a moment,
        # which other threads (the store's) would meet: the running loop, as the server's
        # protocol factory always has one.
        self.loop = loop or asyncio.get_running_loop()
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
        # A dict per session: aiosmtpd's is one for the class, which one session's EHLO
        # (MAIL +26 for SIZE, +10 for SMTPUTF8) widened and the next connection's clear()
        # narrowed for every session under way.
        self.command_size_limits = collections.defaultdict(self._base_size_limit)
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
        self._proxy_timeout = None
        self._enforce_call_limit = False
        self._auth_require_tls = auth_require_tls
        self._authenticator = None
        self._auth_callback = login_always_fail
        self._auth_required = auth_required
        if auth_exclude_mechanism:
            self._auth_excluded = tuple(auth_exclude_mechanism)
        self._handle_hooks = _hooks(handler)
        self._ehlo_hook_ver = None if "EHLO" not in self._handle_hooks else ehlo_version(handler)

    @cached_property
    def _auth_methods(self) -> dict[str, _AuthMechAttr]:  # type: ignore[override]
        """Bound when EHLO lists the mechanisms or AUTH names one, not for every session."""
        methods = {
            mechanism(name, method): _AuthMechAttr(method, obj is self)
            for obj in (self, self.event_handler)
            for name in method_names(type(obj), "auth_")
            for method in (getattr(obj, name),)
        }
        for name in self._auth_excluded:
            methods.pop(name, None)
        return methods

    @cached_property
    def _smtp_methods(self) -> dict[str, Any]:  # type: ignore[override]
        """Bound commands for aiosmtpd's HELP; the command loop uses `_commands`."""
        return {name: getattr(self, "smtp_" + name) for name in _commands(type(self))}

    def _base_size_limit(self) -> int:
        return self.command_size_limit  # RFC 5321 §4.5.3.1.4: 512 octets

    @syntax("EHLO hostname")  # aiosmtpd's, which HELP lists
    async def smtp_EHLO(self, hostname: str) -> None:
        # RFC 5321 §4.1.4: EHLO starts afresh; aiosmtpd's would add MAIL's allowance again
        self.command_size_limits.clear()
        await super().smtp_EHLO(hostname)

    def _command_refusal(self, command: str, arg: str | None) -> tuple[str, bool] | None:
        """A reply that stops a recognised command, and whether the session closes after
        it; None lets it run."""
        return None

    # -- the command loop (aiosmtpd's `_handle_client`) ------------------------------------
    async def _handle_client(self) -> None:
        await self.push(f"220 {self.hostname} {self.__ident__}")
        commands = _commands(type(self))
        bogus = BOGUS_LIMIT
        while self.transport is not None:
            try:
                parsed = await self._read_command()
                if parsed is None:
                    continue
                command, arg = parsed
                method = commands.get(command)
                if method is None:
                    bogus -= 1
                    await self._unrecognised(command, bogus)
                    continue
                self._reset_timeout()  # a valid command restarts the clock
                refusal = self._command_refusal(command, arg)
                if refusal is None:
                    await method(self, arg)
                else:
                    await self._refuse(*refusal)
            except (asyncio.CancelledError, ConnectionResetError):
                # The connection went away, during DATA or between commands.
                self._writer.close()
                raise
            except Exception as error:
                await self._fault(error)

    async def _read_command(self) -> tuple[str, str | None] | None:
        """The next command line as (COMMAND, argument), or None when it was answered here:
        too long (RFC 5321 §4.5.3.1.4), empty, not ASCII, or refused before STARTTLS."""
        try:
            line = await self._reader.readuntil()
        except asyncio.LimitOverrunError as error:
            await self._skip_long_line(error.consumed)
            return None
        line = line.rstrip(b"\r\n")
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%r >> %r", self.session.peer if self.session else None, line)
        if not line:
            return await self._answered("500 Error: bad syntax")
        command_bytes, _, arg_bytes = line.partition(b" ")
        try:
            command = command_bytes.upper().decode("ascii")
        except UnicodeDecodeError:
            return await self._answered("500 Error: bad syntax")
        arg: str | None = None
        if arg_bytes:
            arg_bytes = arg_bytes.strip()
            # surrogateescape keeps undeclared 8-bit bytes re-encodable (aiosmtpd's choice)
            if self.enable_SMTPUTF8:
                arg = str(arg_bytes, encoding="utf-8", errors="surrogateescape")
            else:
                try:
                    arg = str(arg_bytes, encoding="ascii", errors="strict")
                except UnicodeDecodeError:
                    return await self._answered("500 Error: strict ASCII mode")
        return await self._admitted(command, arg, len(line))

    async def _admitted(
        self, command: str, arg: str | None, length: int
    ) -> tuple[str, str | None] | None:
        assert self.session is not None
        limit = (
            self.command_size_limits[command]
            if self.session.extended_smtp
            else self.command_size_limit
        )
        if length > limit:
            return await self._answered("500 Command line too long")
        if not self._tls_handshake_okay and command != "QUIT":
            return await self._answered("554 Command refused due to lack of security")
        if (
            self.require_starttls
            and not self._tls_protocol
            and command not in ALLOWED_BEFORE_STARTTLS
        ):  # RFC 3207 §4
            return await self._answered("530 Must issue a STARTTLS command first")
        return command, arg

    async def _answered(self, reply: str) -> tuple[str, str | None] | None:
        """Answers a line no command runs for: no command to run (None)."""
        await self.push(reply)
        return None

    async def _skip_long_line(self, consumed: int) -> None:
        """Read to the end of an over-long line, then answer it."""
        await self._reader.read(consumed)
        while True:
            try:
                await self._reader.readuntil()
                break
            except asyncio.LimitOverrunError as error:
                await self._reader.read(error.consumed)
        await self.push("500 Command line too long")

    async def _unrecognised(self, command: str, bogus: int) -> None:
        assert self.transport is not None
        log.warning("%r unrecognised: %s", self.session.peer if self.session else None, command)
        if bogus < 1:
            await self.push("502 5.5.1 Too many unrecognized commands, goodbye.")
            self.transport.close()
            return
        await self.push(f'500 Error: command "{command}" not recognized')

    async def _refuse(self, reply: str, close: bool) -> None:
        await self.push(reply)
        if close and self.transport is not None:
            self.transport.close()

    async def _fault(self, error: Exception) -> None:
        """aiosmtpd's answer to an exception in a command: the handler's reply to it."""
        try:
            status = await self.handle_exception(error)
        except Exception as inner:
            log.exception("Exception in handle_exception()")
            status = f"500 Error: ({inner.__class__.__name__}) {inner}"
        if isinstance(error, TLSSetupException):
            assert self.transport is not None
            self.transport.close()
            self.connection_lost(error)
            return
        await self.push(status)
