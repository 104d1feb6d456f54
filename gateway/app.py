"""`gatekeeper serve`: wires the stages together and runs listener, HTTP and delivery."""

from __future__ import annotations

import asyncio
import logging
import signal
import ssl
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

from aiohttp import web

from gateway.config import Config, ConfigError
from gateway.config_values import is_loopback_host, parse_duration, parse_hostport
from gateway.consent.erasure import erasure_key
from gateway.passwords import check_hash_format
from gateway.pipeline.accept import Acceptor
from gateway.pipeline.audit import Audit
from gateway.pipeline.brake import Brake
from gateway.pipeline.decide import Decider
from gateway.pipeline.delivery.upstream import UpstreamPool, UpstreamTarget, parse_upstream
from gateway.pipeline.delivery.worker import Delivery, RetryPolicy, Verp
from gateway.pipeline.diskspace import DiskSpace
from gateway.pipeline.events import EventSource
from gateway.pipeline.events_dispatch import Dispatcher
from gateway.pipeline.instance import Heartbeat, instance_name
from gateway.pipeline.mailboxes import LocalMailboxes
from gateway.pipeline.mailto import Mailbox
from gateway.pipeline.metrics import Metrics
from gateway.pipeline.report_mailbox import ReportMailbox
from gateway.pipeline.report_outcomes import ReportIntake, report_keys
from gateway.pipeline.transform.personalize import Personalizer
from gateway.pipeline.writer import Writer
from gateway.policy import Policy
from gateway.smtp import resources
from gateway.smtp.auth import Authenticator
from gateway.smtp.handler import Handler
from gateway.smtp.limits import SessionLimits
from gateway.smtp.server import GatewaySMTP
from gateway.smtp.tls import listen_implicit, reload_certificate
from gateway.startup import (
    StartupError,
    check_open_relay,
    check_outbox,
    check_store_file,
    listen_error,
    load_configured_policies,
    machine_name,
    os_reason,
    redacted,
    server_tls,
    warn_about_open_relay,
    warn_about_unsubscribe,
)
from gateway.store import Store, open_store
from gateway.store.sqlite import sqlite_path
from gateway.web.app import build_app
from gateway.web.context import WebContext

log = logging.getLogger("gatekeeper")

SHUTDOWN_GRACE = 30.0
"""Seconds open SMTP sessions get to finish after SIGTERM."""


def check_startup(config: Config) -> None:
    """Refuse configurations that would be unsafe to run (no open relay)."""
    host, _ = parse_hostport(config.smtp.listen)
    loopback = is_loopback_host(host)
    smtp = config.smtp
    if not loopback and not smtp.require_auth and not smtp.allow_networks:
        raise ConfigError(
            f"{config.source}: smtp.listen {smtp.listen} is beyond loopback: set "
            "smtp.require_auth = true or smtp.allow_networks, or the gateway is an open relay"
        )
    if not loopback and smtp.require_auth and not smtp.tls_cert:
        raise ConfigError(
            f"{config.source}: smtp.require_auth beyond loopback needs smtp.tls_cert and "
            "smtp.tls_key (passwords are only taken after STARTTLS)"
        )
    for user in smtp.users:
        if not check_hash_format(user.password_hash):
            raise ConfigError(
                f"{config.source}: smtp.users '{user.name}': password_hash must be an argon2 "
                "or scrypt hash (make one with `gatekeeper user add NAME`)"
            )
    parse_upstream(config.upstream.url)


def warn_about_identity(config: Config) -> None:
    if not config.identity.name or not config.identity.postal_address:
        log.warning(
            "identity.name / identity.postal_address not set: commercial mail that needs "
            "sender identification or a postal address will be refused (fail safe)"
        )


def upstream_tls(config: Config) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=config.upstream.ca_file)
    if not config.upstream.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


@dataclass
class Gateway:
    config: Config
    store: Store
    writer: Writer
    delivery: Delivery
    hostname: str
    audit: Audit
    metrics: Metrics = field(default_factory=Metrics)
    sessions: set[GatewaySMTP] = field(default_factory=set)
    smtp_server: asyncio.Server | None = None
    http_runner: web.AppRunner | None = None
    heartbeat: Heartbeat | None = None
    reports: ReportIntake | None = None
    """Where reports are applied: the report mailbox, and the provider webhooks."""
    events: Dispatcher | None = None
    tls: ssl.SSLContext | None = None
    """The server context both SMTP listeners share; SIGHUP reloads its certificate."""
    tls_server: asyncio.Server | None = None
    smtp_factory: Callable[[], GatewaySMTP] | None = None
    """Makes a session: the implicit-TLS listener's are the same as smtp.listen's."""

    @property
    def smtp_port(self) -> int:
        assert self.smtp_server is not None
        return int(self.smtp_server.sockets[0].getsockname()[1])

    @property
    def web_context(self) -> WebContext:
        return WebContext(
            self.config,
            self.store,
            self.audit,
            self.metrics,
            self.writer,
            self.hostname,
            reports=self.reports,  # provider webhooks reach the brake too
        )

    @property
    def http_port(self) -> int:
        assert self.http_runner is not None
        return int(self.http_runner.addresses[0][1])


async def start(config: Config) -> Gateway:
    """Checks first (nothing runs yet), then the parts in order; when one fails, those
    already running are stopped, so the process exits instead of hanging on them."""
    check_startup(config)
    check_open_relay(config)
    policies = load_configured_policies(config)  # a typo stops start-up before anything runs
    tls = server_tls(config)
    hostname = machine_name(config)
    async with AsyncExitStack() as undo:
        gateway, handler = await _assemble(config, policies, hostname, undo)
        await _start_smtp(gateway, handler, tls)
        undo.push_async_callback(_close_smtp, gateway)
        await _start_implicit_tls(gateway, tls)
        await _start_http(gateway)
        _start_heartbeat(gateway)
        undo.pop_all()  # everything runs: stop() undoes it from here on
    # Warnings only once running, so that a fault stays the one line on stderr.
    warn_about_identity(config)
    warn_about_unsubscribe(config, hostname)
    warn_about_open_relay(config)
    return gateway


async def _open_store(config: Config) -> Store:
    url = config.store.url
    if url.startswith("sqlite:///"):
        check_store_file(Path(sqlite_path(url)))
    store = open_store(
        url,
        synchronous=config.store.synchronous,
        pool_min=config.store.pool_min,
        pool_max=config.store.pool_max,
    )
    try:
        await store.open()
    except Exception as exc:
        await store.close()
        where = sqlite_path(url) if url.startswith("sqlite:") else redacted(url)
        raise StartupError(f"cannot open the store: {os_reason(exc)}", where) from exc
    return store


async def _assemble(
    config: Config, policies: dict[str, Policy], hostname: str, undo: AsyncExitStack
) -> tuple[Gateway, Handler]:
    """Store, writer and delivery running, the stages wired; each registered with `undo`."""
    target = parse_upstream(config.upstream.url, config.upstream.username, config.upstream.password)
    if target.scheme == "outbox":
        check_outbox(target.path)
    personalizer = _personalizer(config, hostname)
    store = await _open_store(config)
    undo.push_async_callback(store.close)
    store.holder = instance_name(config, hostname)  # before anything is spooled or claimed
    writer = Writer(
        store,
        window=config.delivery.batch_window_ms / 1000,
        lease=config.delivery.lease,
        disk=DiskSpace.for_store(config.store.url, config.store.min_free_bytes),
    )
    writer.start()
    undo.push_async_callback(writer.stop)
    writer.events = EventSource(config.events)  # docs/design.md §9: the outbox rows
    metrics = Metrics()
    audit = Audit(writer, instance=store.holder, metrics=metrics)
    key = await erasure_key(store, config)
    signing = await report_keys(store)
    personalizer = replace(personalizer, ref_key=signing[0])
    delivery = Delivery(
        store,
        writer,
        audit,
        target,
        _upstream_pool(config, target, hostname),
        workers=config.delivery.workers,
        retry=RetryPolicy(
            initial=config.delivery.retry_initial,
            maximum=config.delivery.retry_max,
            max_age=parse_duration(config.delivery.max_age),
        ),
        hostname=hostname,
        erasure_key=key,
        metrics=metrics,
        verp=Verp(signing[0], config.bounces.domain) if config.bounces.domain else None,
    )
    # This process owns the spool it finds (SQLite): what a crash left leased is due now.
    # Never on PostgreSQL: the leases there may be living instances' (docs/fleet.md).
    if config.store.url.startswith("sqlite:"):
        await store.spool_release(time.time())
    delivery.start()
    undo.push_async_callback(delivery.stop)
    gateway = Gateway(config, store, writer, delivery, hostname, audit, metrics)
    if config.events.webhooks:
        gateway.events = Dispatcher(store, config.events)
        gateway.events.start()
        undo.push_async_callback(gateway.events.stop)
    metrics.watch(gateway.sessions, lambda: delivery.backlog)
    brake = Brake(store, config.complaints, metrics)
    await brake.load()
    brake.start()
    undo.push_async_callback(brake.stop)
    gateway.reports = ReportIntake(store, writer, audit, config.bounces, signing, brake)
    acceptor = Acceptor(
        config=config,
        hostname=hostname,
        writer=writer,
        delivery=delivery,
        decider=Decider(store, policies, config, key),
        audit=audit,
        personalizer=personalizer,
        mailbox=LocalMailboxes(
            Mailbox(
                store,
                audit,
                config.unsubscribe.keys,
                personalizer.mailto_domain,
                config.unsubscribe.token_days,
            ),
            ReportMailbox(gateway.reports, config.bounces, writer, brake),
        ),
        brake=brake,
    )
    return gateway, Handler(config.smtp, acceptor)


def _personalizer(config: Config, hostname: str) -> Personalizer:
    try:
        return Personalizer.from_config(config, hostname)
    except (OSError, ValueError) as exc:
        raise StartupError(
            f"cannot load dkim.key_file: {os_reason(exc)}", config.dkim.key_file
        ) from exc


def _upstream_pool(config: Config, target: UpstreamTarget, hostname: str) -> UpstreamPool | None:
    if target.scheme == "outbox":
        return None
    return UpstreamPool(
        target,
        size=config.upstream.connections,
        local_hostname=hostname,
        timeout=config.upstream.timeout,
        tls_context=upstream_tls(config),
    )


async def _close_smtp(gateway: Gateway) -> None:
    if gateway.smtp_server is not None:
        gateway.smtp_server.close()
        await gateway.smtp_server.wait_closed()
    if gateway.tls_server is not None:
        gateway.tls_server.close()
        await gateway.tls_server.wait_closed()


async def _start_implicit_tls(gateway: Gateway, tls: ssl.SSLContext | None) -> None:
    """`smtp.tls_listen` (RFC 8314 §3): TLS from the first byte, then smtp.listen's sessions."""
    gateway.tls = tls
    listen = gateway.config.smtp.tls_listen
    if not listen or tls is None or gateway.smtp_factory is None:
        return
    host, port = parse_hostport(listen)
    backlog = gateway.config.smtp.listen_backlog
    try:
        gateway.tls_server = await listen_implicit(gateway.smtp_factory, host, port, tls, backlog)
    except OSError as exc:
        raise listen_error("SMTP over TLS", listen, exc) from exc


def _reload_tls(gateway: Gateway) -> None:
    """SIGHUP: new sessions get the certificate now in smtp.tls_cert; open ones keep theirs."""
    cert, key = gateway.config.smtp.tls_cert, gateway.config.smtp.tls_key
    if gateway.tls is None or not cert or not key:
        log.info("SIGHUP: no TLS certificate to reload")
        return
    reload_certificate(gateway.tls, cert, key)


async def _start_smtp(gateway: Gateway, handler: Handler, tls: ssl.SSLContext | None) -> None:
    config = gateway.config
    host, port = parse_hostport(config.smtp.listen)
    # On loopback nobody can listen in, so AUTH works without STARTTLS there.
    auth_require_tls = config.smtp.auth_require_tls
    if auth_require_tls is None:
        auth_require_tls = not is_loopback_host(host)
    authenticator = Authenticator.from_config(config.smtp)
    limits = SessionLimits(config.smtp)  # one budget for every listener's sessions
    resources.raise_fd_limit(config.smtp.max_sessions)
    resources.return_large_blocks()

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
    loop = asyncio.get_running_loop()
    resources.sample_accept_errors(loop)
    backlog = config.smtp.listen_backlog
    try:
        gateway.smtp_server = await loop.create_server(factory, host, port, backlog=backlog)
    except OSError as exc:
        raise listen_error("SMTP", config.smtp.listen, exc) from exc


async def _start_http(gateway: Gateway) -> None:
    host, port = parse_hostport(gateway.config.http.listen)
    runner = web.AppRunner(build_app(gateway.web_context), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise listen_error("HTTP", gateway.config.http.listen, exc) from exc
    gateway.http_runner = runner


async def stop(gateway: Gateway) -> None:
    """Stop accepting, let open sessions finish (bounded), flush, close."""
    if gateway.smtp_server is not None:
        gateway.smtp_server.close()
    if gateway.tls_server is not None:
        gateway.tls_server.close()
    deadline = time.monotonic() + SHUTDOWN_GRACE
    while gateway.sessions and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    for session in list(gateway.sessions):
        if session.transport is not None:
            session.transport.close()
    if gateway.http_runner is not None:
        await gateway.http_runner.cleanup()
    await gateway.delivery.stop()
    if gateway.reports is not None and gateway.reports.brake is not None:
        await gateway.reports.brake.stop()
    if gateway.events is not None:
        await gateway.events.stop()
    await gateway.writer.stop()
    await _leave(gateway)
    await gateway.store.close()


def _start_heartbeat(gateway: Gateway) -> None:
    heartbeat = Heartbeat(gateway.store, lambda: gateway.delivery.backlog)
    heartbeat.smtp = f"{gateway.hostname}:{gateway.smtp_port}"
    heartbeat.http = gateway.config.http.public_url
    heartbeat.start()
    gateway.heartbeat = heartbeat


async def _leave(gateway: Gateway) -> None:
    """A clean stop: gone from the instance list at once, and what this instance still held
    is due now for the others instead of after the lease (docs/fleet.md)."""
    if gateway.heartbeat is not None:
        await gateway.heartbeat.stop()
    try:
        await gateway.store.spool_release_held(time.time())
    except Exception as exc:  # the store is away: the leases run out instead
        log.warning("held messages not released at stop: %s", exc)


async def serve(config: Config) -> None:
    gateway = await start(config)
    log.info(
        "Gatekeeper listening: SMTP %s, HTTP %s, store %s, upstream %s",
        config.smtp.listen,
        config.http.listen,
        config.store.url,
        config.upstream.url,
    )
    if config.upstream.url.startswith("outbox:"):
        log.info(
            "no upstream configured: accepted mail is written to %s",
            Path(config.upstream.url.removeprefix("outbox:")).resolve(),
        )
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopped.set)
    loop.add_signal_handler(signal.SIGHUP, _reload_tls, gateway)
    print(f"READY smtp={gateway.smtp_port} http={gateway.http_port}", flush=True)
    await stopped.wait()
    log.info("stopping: no new sessions; finishing open ones")
    await stop(gateway)
