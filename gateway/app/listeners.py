"""The listeners of a running gateway: SMTP (and its implicit-TLS twin) and HTTP."""

from __future__ import annotations

import asyncio
import logging
import ssl

from aiohttp import web

from gateway.app.parts import Gateway
from gateway.config_values import is_loopback_host, parse_hostport
from gateway.smtp import resources
from gateway.smtp.auth import Authenticator
from gateway.smtp.handler import Handler
from gateway.smtp.limits import SessionLimits
from gateway.smtp.server import GatewaySMTP
from gateway.smtp.tls import listen_implicit, reload_certificate
from gateway.startup import (
    listen_error,
)
from gateway.web.app import build_app

log = logging.getLogger("gatekeeper")


async def close_smtp(gateway: Gateway) -> None:
    if gateway.smtp_server is not None:
        gateway.smtp_server.close()
        await gateway.smtp_server.wait_closed()
    if gateway.tls_server is not None:
        gateway.tls_server.close()
        await gateway.tls_server.wait_closed()


async def start_implicit_tls(gateway: Gateway) -> None:
    """`smtp.tls_listen` (RFC 8314 §3): TLS from the first byte, then smtp.listen's sessions."""
    tls = gateway.tls
    listen = gateway.config.smtp.tls_listen
    if not listen or tls is None or gateway.smtp_factory is None:
        return
    host, port = parse_hostport(listen)
    backlog = gateway.config.smtp.listen_backlog
    try:
        gateway.tls_server = await listen_implicit(gateway.smtp_factory, host, port, tls, backlog)
    except OSError as exc:
        raise listen_error("SMTP over TLS", listen, exc) from exc


def reload_tls(gateway: Gateway) -> None:
    """SIGHUP: new sessions get the certificate now in smtp.tls_cert; open ones keep theirs."""
    cert, key = gateway.config.smtp.tls_cert, gateway.config.smtp.tls_key
    if gateway.tls is None or not cert or not key:
        log.info("SIGHUP: no TLS certificate to reload")
        return
    reload_certificate(gateway.tls, cert, key)


def install_sessions(
    gateway: Gateway,
    handler: Handler,
    tls: ssl.SSLContext | None,
    limits: SessionLimits,
    authenticator: Authenticator,
) -> None:
    """What makes every SMTP session of this process, whichever listener it came from:
    `gateway.smtp_factory`, with the TLS context and authenticator it shares."""
    config = gateway.config
    host, _ = parse_hostport(config.smtp.listen)
    # On loopback nobody can listen in, so AUTH works without STARTTLS there.
    auth_require_tls = config.smtp.auth_require_tls
    if auth_require_tls is None:
        auth_require_tls = not is_loopback_host(host)
    gateway.authenticator = authenticator
    gateway.tls = tls

    def factory() -> GatewaySMTP:
        session = GatewaySMTP(
            handler,
            authenticator=authenticator,
            limits=limits,
            hostname=gateway.hostname,
            ident="Gatekeeper ESMTP",
            data_size_limit=config.smtp.max_message_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            tls_context=tls,
            timeout=config.smtp.timeout,
            auth_require_tls=auth_require_tls,
            auth_required=False,
            on_close=gateway.sessions.discard,
        )
        gateway.sessions.add(session)
        gateway.metrics.smtp_sessions.inc()
        return session

    gateway.smtp_factory = factory


def prepare_process(gateway: Gateway) -> None:
    """Once per process that serves sessions: descriptors, malloc, accept-error sampling,
    and start-up's objects frozen (the last: everything is made by now)."""
    resources.raise_fd_limit(gateway.config.smtp.max_sessions)
    resources.return_large_blocks()
    resources.sample_accept_errors(asyncio.get_running_loop())
    resources.freeze_start_up()


async def start_smtp(gateway: Gateway, handler: Handler, tls: ssl.SSLContext | None) -> None:
    config = gateway.config
    host, port = parse_hostport(config.smtp.listen)
    limits = SessionLimits(config.smtp)  # one budget for every listener's sessions
    authenticator = Authenticator.from_config(config.smtp)
    install_sessions(gateway, handler, tls, limits, authenticator)
    prepare_process(gateway)
    loop = asyncio.get_running_loop()
    backlog = config.smtp.listen_backlog
    assert gateway.smtp_factory is not None
    try:
        gateway.smtp_server = await loop.create_server(
            gateway.smtp_factory, host, port, backlog=backlog
        )
    except OSError as exc:
        raise listen_error("SMTP", config.smtp.listen, exc) from exc


async def start_http(gateway: Gateway) -> None:
    host, port = parse_hostport(gateway.config.http.listen)
    # aiohttp's keep-alive timer also bounds a request's headers (gateway/web/deadline.py
    # bounds its body); left alone it is an hour
    timeout = gateway.config.http.request_timeout
    runner = web.AppRunner(
        build_app(gateway.web_context), access_log=None, keepalive_timeout=timeout
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise listen_error("HTTP", gateway.config.http.listen, exc) from exc
    gateway.http_runner = runner
