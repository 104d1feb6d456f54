"""The running gateway: its parts, as `start` assembled them and `stop` takes them down."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from gateway.config import Config
from gateway.pipeline.audit import Audit
from gateway.pipeline.delivery.worker import Delivery
from gateway.pipeline.events_dispatch import Dispatcher
from gateway.pipeline.instance import Heartbeat
from gateway.pipeline.metrics import Metrics
from gateway.pipeline.report_outcomes import ReportIntake
from gateway.pipeline.writer import Writer
from gateway.smtp.auth import Authenticator
from gateway.smtp.server import GatewaySMTP
from gateway.store import Store
from gateway.web.context import WebContext

if TYPE_CHECKING:
    from gateway.app.door import Door


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
    authenticator: Authenticator | None = None
    door: Door | None = None
    """With smtp.processes > 1: what accepts every connection and hands it over."""
    handovers: set[asyncio.Task[Any]] = field(default_factory=set)
    """Sessions being set up on a handed-over socket (kept referenced until they are)."""

    @property
    def smtp_port(self) -> int:
        if self.door is not None:
            return self.door.port
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
