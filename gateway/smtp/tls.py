"""TLS for the listeners: one server context, hardened, shared by STARTTLS on `smtp.listen`
and the implicit-TLS listener on `smtp.tls_listen` (RFC 8314 §3, port 465 style), and
reloaded in place on SIGHUP.

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

# Mozilla's "intermediate" configuration (ssl-config.mozilla.org, guideline 5.7): TLS 1.2
# with forward-secret AEAD suites only; TLS 1.3's suites are all modern and left as they are.
INTERMEDIATE_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "DHE-RSA-AES128-GCM-SHA256",
        "DHE-RSA-AES256-GCM-SHA384",
        "DHE-RSA-CHACHA20-POLY1305",
    )
)


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """TLS 1.2 or later (RFC 8996 retired 1.0 and 1.1; RFC 8314 §4.1 asks for current TLS),
    the intermediate suites, no client-initiated renegotiation (a cheap CPU drain)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(INTERMEDIATE_CIPHERS)
    context.options |= ssl.OP_NO_RENEGOTIATION | ssl.OP_NO_COMPRESSION
    context.load_cert_chain(cert, key)
    return context


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
