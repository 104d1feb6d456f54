"""Record stage: every decision becomes one row, written in the writer's next batch."""

from __future__ import annotations

from gateway.pipeline.metrics import Metrics
from gateway.pipeline.writer import Writer
from gateway.store.records import Decision


class Audit:
    def __init__(self, writer: Writer, instance: str, metrics: Metrics | None = None) -> None:
        self._writer = writer
        self.instance = instance
        self._metrics = metrics

    @property
    def writer(self) -> Writer:
        """The batch these rows go into: suppressions and events written with them."""
        return self._writer

    def record(self, decisions: list[Decision]) -> None:
        """Off the hot path: no waiting for the commit."""
        for decision in decisions:
            decision.instance = self.instance
        self._writer.record(decisions)
        if self._metrics is not None:
            self._metrics.count(decisions)
