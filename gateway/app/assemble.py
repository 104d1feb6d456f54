"""Assembling the parts of a gateway: store, writer, delivery, the pipeline's stages."""

from __future__ import annotations

import ssl
import time
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path

from gateway.app.parts import Gateway
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
from gateway.pipeline.instance import instance_name
from gateway.pipeline.mailboxes import LocalMailboxes
from gateway.pipeline.mailto import Mailbox
from gateway.pipeline.metrics import Metrics
from gateway.pipeline.report_mailbox import ReportMailbox
from gateway.pipeline.report_outcomes import ReportIntake, report_keys
from gateway.pipeline.transform.personalize import Personalizer
from gateway.pipeline.writer import Writer
from gateway.policy import Policy
from gateway.smtp.handler import Handler
from gateway.startup import (
    StartupError,
    check_outbox,
    check_store_file,
    os_reason,
    redacted,
)
from gateway.store import Store, open_store
from gateway.store.sqlite import sqlite_path


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


def upstream_tls(config: Config) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=config.upstream.ca_file)
    if not config.upstream.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


async def open_configured_store(config: Config) -> Store:
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


async def assemble(
    config: Config,
    policies: dict[str, Policy],
    hostname: str,
    undo: AsyncExitStack,
    shadow: dict[str, Policy] | None = None,
    worker: tuple[int, str] | None = None,
) -> tuple[Gateway, Handler]:
    """Store, writer and delivery running, the stages wired; each registered with `undo`.
    `worker`: (N, the instance's name) in the Nth SMTP worker process of an instance
    (gateway/app/worker.py), which holds what it spools as `NAME/wN`; the serving process
    alone recovers the spool at start and dispatches webhooks."""
    target = parse_upstream(config.upstream.url, config.upstream.username, config.upstream.password)
    if target.scheme == "outbox":
        check_outbox(target.path)
    personalizer = _personalizer(config, hostname)
    store = await open_configured_store(config)
    undo.push_async_callback(store.close)
    instance = worker[1] if worker else instance_name(config, hostname)
    store.holder = f"{instance}/w{worker[0]}" if worker else instance  # before any spooling
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
    # Rows name the process that decided: each is the only writer of its own hash chain
    # (docs/accountability.md), so `/wN` for a worker.
    audit = Audit(writer, instance=store.holder, metrics=metrics)
    key = await erasure_key(store, config)
    writer.chain_key = key  # the decision chain digests addresses as `forget` would
    signing = await report_keys(store)
    personalizer = replace(personalizer, ref_key=signing[0])
    delivery = _delivery(config, store, writer, audit, target, hostname, key, signing, metrics)
    # This process owns the spool it finds (SQLite): what a crash left leased is due now.
    # Never on PostgreSQL: the leases there may be living instances' (docs/fleet.md).
    if config.store.url.startswith("sqlite:") and not worker:
        await store.spool_release(time.time())
    delivery.start()
    undo.push_async_callback(delivery.stop)
    gateway = Gateway(config, store, writer, delivery, hostname, audit, metrics)
    if config.events.webhooks and not worker:
        gateway.events = Dispatcher(store, config.events)
        gateway.events.start()
        undo.push_async_callback(gateway.events.stop)
    metrics.watch(gateway.sessions, lambda: delivery.backlog)
    brake = Brake(store, config.complaints, metrics)
    await brake.load()
    brake.start()
    undo.push_async_callback(brake.stop)
    gateway.reports = ReportIntake(store, writer, audit, config.bounces, signing, brake)
    acceptor = _acceptor(config, gateway, (policies, shadow), personalizer, key, brake)
    return gateway, Handler(config.smtp, acceptor)


def _delivery(
    config: Config,
    store: Store,
    writer: Writer,
    audit: Audit,
    target: UpstreamTarget,
    hostname: str,
    key: bytes,
    signing: list[bytes],
    metrics: Metrics,
) -> Delivery:
    return Delivery(
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


def _acceptor(
    config: Config,
    gateway: Gateway,
    policies: tuple[dict[str, Policy], dict[str, Policy] | None],
    personalizer: Personalizer,
    key: bytes,
    brake: Brake,
) -> Acceptor:
    """The pipeline behind the SMTP handler; both local mailboxes beside it."""
    reports = gateway.reports
    assert reports is not None
    return Acceptor(
        config=config,
        hostname=gateway.hostname,
        writer=gateway.writer,
        delivery=gateway.delivery,
        decider=Decider(gateway.store, policies[0], config, key, shadow=policies[1]),
        audit=gateway.audit,
        personalizer=personalizer,
        mailbox=LocalMailboxes(
            Mailbox(
                gateway.store,
                gateway.audit,
                config.unsubscribe.keys,
                personalizer.mailto_domain,
                config.unsubscribe.token_days,
            ),
            ReportMailbox(reports, config.bounces, gateway.writer, brake),
        ),
        brake=brake,
    )


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
