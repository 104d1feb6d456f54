"""`gatekeeper serve`: start the parts in order, serve until a signal, stop them in order."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from contextlib import AsyncExitStack
from pathlib import Path

from gateway.app.assemble import assemble, check_startup
from gateway.app.door import open_door
from gateway.app.listeners import close_smtp, reload_tls, start_http, start_implicit_tls, start_smtp
from gateway.app.parts import Gateway
from gateway.config import Config
from gateway.pipeline.instance import Heartbeat
from gateway.smtp import resources
from gateway.startup import (
    check_open_relay,
    load_configured_policies,
    load_shadow_policies,
    machine_name,
    server_tls,
    warn_about_open_relay,
    warn_about_unsubscribe,
)

log = logging.getLogger("gatekeeper")


SHUTDOWN_GRACE = 30.0
"""Seconds open SMTP sessions get to finish after SIGTERM."""


def warn_about_identity(config: Config) -> None:
    if not config.identity.name or not config.identity.postal_address:
        log.warning(
            "identity.name / identity.postal_address not set: commercial mail that needs "
            "sender identification or a postal address will be refused (fail safe)"
        )


DEFAULT_MAX_PROCESSES = 8
"""The most processes `smtp.processes = 0` makes: past a few, the store's one writer at a
time sets the pace, and each process costs its memory (~70 MB)."""
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def process_count(config: Config) -> int:
    """smtp.processes; 0 means one per core this process may use: its CPU affinity, and a
    container's CPU quota (cgroup v2 `cpu.max`, which affinity does not show)."""
    if config.smtp.processes:
        return config.smtp.processes
    cores = len(os.sched_getaffinity(0))
    try:
        quota, period = CGROUP_CPU_MAX.read_text().split()
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 (or not Linux): affinity alone
    return min(cores, DEFAULT_MAX_PROCESSES)


async def start(config: Config, processes: int = 1) -> Gateway:
    """Checks first (nothing runs yet), then the parts in order; when one fails, those
    already running are stopped, so the process exits instead of hanging on them.
    With `processes` > 1, this process is the door and serves sessions beside
    `processes - 1` worker processes (gateway/app/door.py)."""
    check_startup(config)
    check_open_relay(config)
    policies = load_configured_policies(config)  # a typo stops start-up before anything runs
    shadow = load_shadow_policies(config)  # the candidate set too (policy.shadow_directory)
    tls = server_tls(config)
    hostname = machine_name(config)
    async with AsyncExitStack() as undo:
        gateway, handler = await assemble(config, policies, hostname, undo, shadow)
        if processes > 1:
            door = await open_door(gateway, handler, tls, processes - 1)
            undo.push_async_callback(door.workers.stop, 0)
            undo.callback(door.close)
            gateway.metrics.remote = door.workers.metrics
        else:
            await start_smtp(gateway, handler, tls)
            undo.push_async_callback(close_smtp, gateway)
            await start_implicit_tls(gateway)
        await start_http(gateway)
        start_heartbeat(gateway)
        undo.pop_all()  # everything runs: stop() undoes it from here on
    # Warnings only once running, so that a fault stays the one line on stderr.
    warn_about_identity(config)
    warn_about_unsubscribe(config, hostname)
    warn_about_open_relay(config)
    return gateway


async def stop(gateway: Gateway) -> None:
    """Stop accepting, let open sessions finish (bounded), flush, close."""
    if gateway.smtp_server is not None:
        gateway.smtp_server.close()
    if gateway.tls_server is not None:
        gateway.tls_server.close()
    workers = None
    if gateway.door is not None:
        gateway.door.close()
        workers = asyncio.create_task(gateway.door.workers.stop(SHUTDOWN_GRACE))
    deadline = time.monotonic() + SHUTDOWN_GRACE
    while (gateway.sessions or gateway.handovers) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    for session in list(gateway.sessions):
        if session.transport is not None:
            session.transport.close()
    if workers is not None:
        await workers
    if gateway.http_runner is not None:
        await gateway.http_runner.cleanup()
    await gateway.delivery.stop()
    if gateway.reports is not None and gateway.reports.brake is not None:
        await gateway.reports.brake.stop()
    if gateway.events is not None:
        await gateway.events.stop()
    await gateway.writer.stop()
    await leave(gateway)
    await gateway.store.close()
    resources.thaw()  # listeners.prepare_process froze start-up's objects


def start_heartbeat(gateway: Gateway) -> None:
    """The instance's row; its SMTP worker processes have none of their own (an
    instance is what listens, however many processes serve it)."""
    heartbeat = Heartbeat(gateway.store, lambda: gateway.delivery.backlog)
    heartbeat.smtp = f"{gateway.hostname}:{gateway.smtp_port}"
    heartbeat.http = gateway.config.http.public_url
    heartbeat.start()
    gateway.heartbeat = heartbeat


async def leave(gateway: Gateway) -> None:
    """A clean stop: gone from the instance list at once, and what this instance still held
    is due now for the others instead of after the lease (docs/fleet.md)."""
    if gateway.heartbeat is not None:
        await gateway.heartbeat.stop()
    try:
        await gateway.store.spool_release_held(time.time())
    except Exception as exc:  # the store is away: the leases run out instead
        log.warning("held messages not released at stop: %s", exc)


async def serve(config: Config) -> None:
    processes = process_count(config)
    gateway = await start(config, processes)
    log.info(
        "Gatekeeper listening: SMTP %s (%d processes), HTTP %s, store %s, upstream %s",
        config.smtp.listen,
        processes,
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
    loop.add_signal_handler(signal.SIGHUP, reload_everywhere, gateway)
    print(f"READY smtp={gateway.smtp_port} http={gateway.http_port}", flush=True)
    await stopped.wait()
    log.info("stopping: no new sessions; finishing open ones")
    await stop(gateway)


def reload_everywhere(gateway: Gateway) -> None:
    """SIGHUP: this process's certificate, and every worker's."""
    reload_tls(gateway)
    if gateway.door is not None:
        gateway.door.workers.signal(signal.SIGHUP)
