"""Prometheus metrics, one registry per gateway: several gateways in one process (tests)
must not share counters, so nothing goes to prometheus-client's global registry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence, Sized
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Sample as PromSample

from gateway.store.records import Decision, SpoolCounts

CONTENT_TYPE = CONTENT_TYPE_LATEST
DECISION_LABELS = ("action", "reason", "purpose", "jurisdiction", "phase")


Sample = list[Any]
"""[family, sample name, labels, value]: JSON-able, for the line from a worker process."""
FROM_THE_STORE = {
    "gatekeeper_queue_depth",
    "gatekeeper_queue_due",
    "gatekeeper_queue_oldest_age_seconds",
    "gatekeeper_complaint_rate",
}
"""Read from the store by the serving process: the same for all, so never summed."""


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.remote: Callable[[], Awaitable[list[Sample]]] | None = None
        """The samples of the worker processes (smtp.processes), when there are any."""
        self.decisions = Counter(
            "gatekeeper_decisions", "Decisions recorded", DECISION_LABELS, registry=self.registry
        )
        self._decision_children: dict[tuple[str, ...], Any] = {}
        self.delivery_attempts = Counter(
            "gatekeeper_delivery_attempts",
            "Upstream delivery attempts per recipient, by outcome (delivered, deferred, bounced)",
            ["outcome"],
            registry=self.registry,
        )
        self.upstream_latency = Histogram(
            "gatekeeper_upstream_send_seconds",
            "Time of one upstream SMTP transaction (MAIL to the reply to DATA)",
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.smtp_sessions = Counter(
            "gatekeeper_smtp_sessions", "SMTP connections accepted", registry=self.registry
        )
        self.smtp_sessions_open = Gauge(
            "gatekeeper_smtp_sessions_open", "SMTP sessions open now", registry=self.registry
        )
        self.queue_depth = Gauge(
            "gatekeeper_queue_depth", "Recipients waiting in the spool", registry=self.registry
        )
        self.queue_due = Gauge(
            "gatekeeper_queue_due",
            "Recipients in the spool due for delivery now (the rest wait for a retry or are "
            "being delivered)",
            registry=self.registry,
        )
        self._counts_lock = asyncio.Lock()
        self._counts: tuple[float, SpoolCounts] | None = None
        self.queue_oldest = Gauge(
            "gatekeeper_queue_oldest_age_seconds",
            "Age of the oldest message waiting in the spool (0 when empty)",
            registry=self.registry,
        )
        self.delivery_in_flight = Gauge(
            "gatekeeper_delivery_in_flight",
            "Messages being delivered by this process now",
            registry=self.registry,
        )
        self.complaint_rate = Gauge(
            "gatekeeper_complaint_rate",
            "Complaints per delivered non-transactional message over 24 h, by sender domain",
            ["domain"],
            registry=self.registry,
        )

    def count(self, decisions: Sequence[Decision]) -> None:
        for d in decisions:
            self._decision_counter(d.action, d.reason, d.purpose, d.jurisdiction, d.phase).inc()
            if d.phase == "delivery":
                self.delivery_attempts.labels(d.reason).inc()

    def _decision_counter(self, *labels: str) -> Any:
        """The child counter of these labels; prometheus-client's `labels()` validates and
        locks on every call, a cost paid per recipient on the hot path, so children are kept
        (label values come from fixed sets: the table stays small)."""
        child = self._decision_children.get(labels)
        if child is None:
            child = self._decision_children[labels] = self.decisions.labels(*labels)
        return child

    def watch(self, sessions: Sized, backlog: Callable[[], float]) -> None:
        """Gauges read when scraped, so they are never stale and cost nothing between."""
        self.smtp_sessions_open.set_function(lambda: len(sessions))
        self.delivery_in_flight.set_function(backlog)

    def render(
        self, spool: SpoolCounts, now: float | None = None, others: Sequence[Sample] = ()
    ) -> bytes:
        """The text exposition; the spool's counts are passed in because reading them is
        async (and cheap: indexes only, never the queue itself). `others`: the samples of
        the other processes serving SMTP beside this one, added in."""
        self.queue_depth.set(spool.recipients)
        self.queue_due.set(spool.due)
        oldest = spool.oldest
        self.queue_oldest.set(0 if oldest is None else max((now or time.time()) - oldest, 0))
        if not others:
            return generate_latest(self.registry)
        return generate_latest(_Summed(self.registry, others))

    def snapshot(self) -> list[Sample]:
        """This process's own samples, for the serving process to add to its own: not the
        spool's (it reads those itself), not the creation times (a sum of them is none)."""
        return [
            [family.name, sample.name, sample.labels, sample.value]
            for family in self.registry.collect()
            if family.name not in FROM_THE_STORE
            for sample in family.samples
            if not sample.name.endswith("_created")
        ]

    async def exposition(
        self, counts: Callable[[float], Awaitable[SpoolCounts]], max_age: float
    ) -> bytes:
        """The exposition with the spool's counts at most `max_age` seconds old: however
        many scrapers ask at once, the store is read once per period (single flight); the
        in-memory counters are always current."""
        async with self._counts_lock:
            cached = self._counts
            if cached is None or time.monotonic() - cached[0] >= max_age:
                cached = self._counts = (time.monotonic(), await counts(time.time()))
        others = await self.remote() if self.remote is not None else []
        return self.render(cached[1], others=others)


class _Summed:
    """A registry's families with other processes' samples added: same names and labels
    summed, new label sets appended (counters, histograms, the session gauges)."""

    def __init__(self, registry: CollectorRegistry, others: Sequence[Sample]) -> None:
        self._registry = registry
        self._others: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
        for family, name, labels, value in others:
            key = (name, tuple(sorted(labels.items())))
            samples = self._others.setdefault(family, {})
            samples[key] = samples.get(key, 0.0) + value

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            extra = dict(self._others.get(family.name, {}))
            samples = []
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                samples.append(sample._replace(value=sample.value + extra.pop(key, 0.0)))
            for (name, labels), value in extra.items():
                samples.append(PromSample(name, dict(labels), value))
            family.samples = samples
            yield family
