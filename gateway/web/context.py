"""What every HTTP handler reaches through its request: the config and the shared parts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from gateway.audit import Audit
from gateway.config import Config
from gateway.metrics import Metrics
from gateway.store import Store

if TYPE_CHECKING:
    from gateway.delivery.worker import Delivery


@dataclass
class WebContext:
    config: Config
    store: Store
    audit: Audit
    metrics: Metrics = field(default_factory=Metrics)
    delivery: Delivery | None = None


CONTEXT: web.AppKey[WebContext] = web.AppKey("gatekeeper", WebContext)
