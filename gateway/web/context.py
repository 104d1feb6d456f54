"""What every HTTP handler reaches through its request: the config and the shared parts."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from gateway.config import Config
from gateway.pipeline.audit import Audit
from gateway.pipeline.metrics import Metrics
from gateway.pipeline.report_outcomes import ReportIntake
from gateway.pipeline.writer import Writer
from gateway.store import Store


@dataclass
class WebContext:
    config: Config
    store: Store
    audit: Audit
    metrics: Metrics = field(default_factory=Metrics)
    writer: Writer | None = None
    """The group-commit writer: its last commit's fate for /readyz, and the spool for mail
    the web side writes (the re-subscribe confirmation)."""
    hostname: str = "localhost"
    reports: ReportIntake | None = None
    """Where provider webhooks hand their reports (web/hooks_*.py); None = one is made from
    the parts above, without the complaint-rate brake."""


CONTEXT: web.AppKey[WebContext] = web.AppKey("gatekeeper", WebContext)
