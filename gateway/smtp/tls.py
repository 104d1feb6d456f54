"""TLS for the listeners: the implicit-TLS listener on `smtp.tls_listen` (RFC 8314 §3, port
465 style) beside STARTTLS on `smtp.listen`, both on one server context (made, hardened, by
gateway/startup.py `server_context`), and its certificate reloaded in place on SIGHUP.

Reloading loads the new certificate into the same context object: OpenSSL copies a
context's certificate into each connection when the connection is made, so sessions under
way keep the certificate they were made with and every later handshake, implicit or
STARTTLS, gets the new one. The files are first loaded into a throwaway context, so a bad
pair (a key of another certificate) is refused whole and the one in use stays.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from typing import Any

log = logging.getLogger("gatekeeper")


def reload_certificate(context: ssl.SSLContext, cert: str, key: str) -> bool:
    """Load `cert` and `key` into the live `context` for new handshakes; False (and the old
    pair kept) when they cannot be read or do not belong together."""
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        log.error("TLS certificate not reloaded, the old one stays: %s (%s, %s)", exc, cert, key)
        return False
    log.info("TLS certificate reloaded for new sessions (%s)", cert)
    return True


def implicit_tls(protocol: Any, transport: asyncio.BaseTransport) -> None:
    """A session that begins in TLS (the implicit listener): it is encrypted from its first
    byte, so AUTH needs no STARTTLS, and STARTTLS is not offered inside TLS."""
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None or protocol.session is None:
        return
    protocol.tls_context = None
    protocol._auth_require_tls = False
    # What aiosmtpd keeps after STARTTLS, so the Received field says ESMTPS(A) alike.
    protocol.session.ssl = {
        name: transport.get_extra_info(name)
        for name in ("ssl_object", "sslcontext", "peercert", "cipher", "compression")
    }


HANDSHAKE_TIMEOUT = 10.0
"""Seconds a client gets to complete the TLS handshake before its socket is closed."""


class AfterHandshake(asyncio.Protocol):
    """Makes the session only once the TLS handshake is done. asyncio makes a listener's
    protocol when it accepts, but tells it nothing when the handshake then fails; a session
    made at accept would stay counted (and waited for at stop) forever."""

    def __init__(self, factory: Callable[[], asyncio.Protocol]) -> None:
        self._factory = factory
        self._session: asyncio.Protocol | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._session = self._factory()
        self._session.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        assert self._session is not None
        self._session.data_received(data)

    def eof_received(self) -> bool | None:
        return self._session.eof_received() if self._session is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._session is not None:
            self._session.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._session is not None:
            self._session.pause_writing()

    def resume_writing(self) -> None:
        if self._session is not None:
            self._session.resume_writing()


async def listen_implicit(
    factory: Callable[[], asyncio.Protocol],
    host: str,
    port: int,
    context: ssl.SSLContext,
    backlog: int,
) -> asyncio.Server:
    """The implicit-TLS listener: the handshake first (bounded in time), then the same
    sessions as on `smtp.listen` (the same factory, so the same limits)."""
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        lambda: AfterHandshake(factory),
        host,
        port,
        ssl=context,
        backlog=backlog,
        ssl_handshake_timeout=HANDSHAKE_TIMEOUT,
    )
