"""Probes for orchestrators and scrapers: /healthz, /readyz, /metrics."""

from __future__ import annotations

import asyncio

from aiohttp import web

from gateway.config import Config
from gateway.pipeline.delivery.upstream import parse_upstream
from gateway.pipeline.metrics import CONTENT_TYPE
from gateway.startup import redacted
from gateway.web.compare import bearer_matches
from gateway.web.context import CONTEXT, WebContext

READY_TIMEOUT = 5.0
"""Seconds each readiness check may take: a probe must answer before its own timeout."""


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def readyz(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    checks = {"store": ping_store(ctx), "upstream": ping_upstream(ctx.config)}
    results = await asyncio.gather(*checks.values())
    down = {name: problem for name, problem in zip(checks, results, strict=True) if problem}
    body = {"ready": not down, "down": down, **store_identity(ctx)}
    return web.json_response(body, status=503 if down else 200)


def store_identity(ctx: WebContext) -> dict[str, str]:
    """Which database this instance uses (password left out) and its name among the
    instances sharing it (docs/fleet.md): a load balancer's health check shows both."""
    return {"store": redacted(ctx.store.url), "instance": ctx.store.holder}


async def ping_store(ctx: WebContext) -> str:
    """Ready only while the store can commit: the writer's last commit (or its recovery
    probe) failed, or a small write of our own fails (a full disk reads fine)."""
    if ctx.writer is not None and ctx.writer.failure:
        return f"last commit failed: {ctx.writer.failure}"
    try:
        await asyncio.wait_for(ctx.store.ping(), READY_TIMEOUT)
        await asyncio.wait_for(ctx.store.write_probe(), READY_TIMEOUT)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


async def ping_upstream(config: Config) -> str:
    """A plain connect and, on cleartext SMTP, its 220 greeting: a pooled connection could
    be a stale one, and the pool's slots belong to the delivery workers."""
    target = parse_upstream(config.upstream.url)
    if target.scheme == "outbox":
        return ""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(target.host, target.port), READY_TIMEOUT
        )
    except (OSError, TimeoutError) as exc:
        return f"{target.host}:{target.port}: {type(exc).__name__}: {exc}"
    try:
        if target.scheme != "smtps":
            greeting = await asyncio.wait_for(reader.readline(), READY_TIMEOUT)
            if not greeting.startswith(b"220"):
                return f"{target.host}:{target.port}: greeting {greeting[:80]!r}"
            writer.write(b"QUIT\r\n")
        return ""
    except (OSError, TimeoutError) as exc:
        return f"{target.host}:{target.port}: {type(exc).__name__}: {exc}"
    finally:
        writer.close()


async def metrics(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    token = ctx.config.http.metrics_token
    if token and not bearer_matches(request, token):
        return web.Response(
            status=401,
            text="/metrics needs the bearer token of http.metrics_token\n",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},  # RFC 6750 §3
        )
    body = await ctx.metrics.exposition(
        ctx.store.spool_counts, ctx.config.http.metrics_cache_seconds
    )
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
