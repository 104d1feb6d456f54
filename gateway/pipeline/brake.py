"""The complaint-rate brake (docs/design.md §8): complaints per delivered non-transactional
message, per sender domain, over 24 h.

Above `complaints.warn_rate` a warning; above `complaints.pause_rate` with at least
`complaints.min_volume` deliveries the domain is paused in the store, and its
non-transactional mail is answered 451 4.7.1 until `gatekeeper senders resume DOMAIN`.
Transactional mail never pauses. The hot path reads an in-memory dict; the small pause table
is re-read every few seconds (so a resume or another instance's pause is seen), the rates
(a scan of 24 h of decision rows) every minute and after each complaint.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gateway.addresses import AddressError, canonical
from gateway.config_reports import ComplaintsConfig
from gateway.pipeline import replies
from gateway.pipeline.metrics import Metrics
from gateway.store import Store
from gateway.store.records import SenderPause, iso_now

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
PAUSES_EVERY = 2.0
"""Seconds between reads of the pause table (tiny: one row per paused domain)."""
RATES_EVERY = 60.0
"""Seconds between rate evaluations when no complaint prompts one."""
TRANSACTIONAL = "transactional"


@dataclass(frozen=True, slots=True)
class Rate:
    domain: str
    delivered: int
    complaints: int
    sender_side: int

    @property
    def rate(self) -> float:
        return self.complaints / self.delivered if self.delivered else float(self.complaints > 0)


def sender_domain(sender: str) -> str:
    """The domain a rate is kept for: the envelope sender's, as canonical() spells it."""
    try:
        return canonical(sender).rpartition("@")[2] if sender else ""
    except AddressError:
        return sender.rpartition("@")[2].lower()


def per_domain(rows: list[tuple[str, str, int]]) -> dict[str, Rate]:
    """Store.sender_counts rows summed per sender domain."""
    sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for sender, reason, count in rows:
        sums[sender_domain(sender)][reason] += count
    return {
        domain: Rate(domain, c["delivered"], c["complaint"], c["sender-side"])
        for domain, c in sums.items()
        if domain
    }


async def window_rates(
    store: Store, pauses: dict[str, SenderPause], now: datetime
) -> dict[str, Rate]:
    """Each sender domain's rate over the window, read only (the brake, `senders list` and
    the dashboard show the same figures)."""
    rates = per_domain(await store.sender_counts(_iso(now - WINDOW)))
    for domain, pause in pauses.items():
        # After a resume only what came since counts: the old complaints were answered.
        if pause.resumed_at and pause.resumed_at > _iso(now - WINDOW):
            fresh = per_domain(await store.sender_counts(pause.resumed_at))
            rates[domain] = fresh.get(domain, Rate(domain, 0, 0, 0))
    return rates


class Brake:
    def __init__(
        self, store: Store, config: ComplaintsConfig, metrics: Metrics | None = None
    ) -> None:
        self._store = store
        self._config = config
        self._metrics = metrics
        self._paused: dict[str, str] = {}
        self._warned: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._prompt = asyncio.Event()

    def refusal(self, sender: str, purpose: str) -> str | None:
        """The 451 for mail of a paused sender domain; None for anything else. O(1)."""
        if not self._paused or purpose == TRANSACTIONAL:
            return None
        return self._paused.get(sender_domain(sender))

    def complained(self) -> None:
        """A complaint was recorded: evaluate the rates soon, not at the next minute."""
        self._prompt.set()

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._every(PAUSES_EVERY, self.load), name="brake-pauses"),
            asyncio.create_task(self._rates(), name="brake-rates"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def load(self) -> None:
        """The paused domains from the store, as the replies they get."""
        pauses = await self._store.sender_pauses()
        self._paused = {p.domain: self._reply(p) for p in pauses if not p.resumed_at}

    async def evaluate(self, now: datetime | None = None) -> list[Rate]:
        """Rates over the window; warn and pause as the thresholds say. Returns the rates."""
        now = now or datetime.now(UTC)
        pauses = {p.domain: p for p in await self._store.sender_pauses()}
        rates = await window_rates(self._store, pauses, now)
        for rate in rates.values():
            await self._judge(rate, pauses.get(rate.domain))
        await self.load()
        return sorted(rates.values(), key=lambda r: r.domain)

    async def _judge(self, rate: Rate, pause: SenderPause | None) -> None:
        if self._metrics is not None:
            self._metrics.complaint_rate.labels(rate.domain).set(rate.rate)
        config = self._config
        if rate.complaints and rate.rate > config.warn_rate:
            if rate.domain not in self._warned:
                log.warning(
                    "complaint rate of %s is %.3f%% (%d complaints, %d delivered in 24 h), above "
                    "complaints.warn_rate %.3f%%",
                    rate.domain,
                    100 * rate.rate,
                    rate.complaints,
                    rate.delivered,
                    100 * config.warn_rate,
                )
                self._warned.add(rate.domain)
        else:
            self._warned.discard(rate.domain)
        paused = pause is not None and not pause.resumed_at
        if paused or rate.rate <= config.pause_rate or rate.delivered < config.min_volume:
            return
        detail = json.dumps(
            {
                "rate": rate.rate,
                "threshold": config.pause_rate,
                "complaints": rate.complaints,
                "delivered": rate.delivered,
            }
        )
        if await self._store.pause_sender(rate.domain, iso_now(), detail):
            log.warning(
                "paused non-transactional mail of %s: complaint rate %.3f%% above "
                "complaints.pause_rate %.3f%%; lift with: gatekeeper senders resume %s",
                rate.domain,
                100 * rate.rate,
                100 * config.pause_rate,
                rate.domain,
            )

    def _reply(self, pause: SenderPause) -> str:
        try:
            detail = json.loads(pause.detail)
            rate, threshold = float(detail["rate"]), float(detail["threshold"])
        except (ValueError, KeyError, TypeError):
            rate, threshold = 0.0, self._config.pause_rate
        return replies.sender_paused(pause.domain, rate, threshold)

    async def _rates(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._prompt.wait(), RATES_EVERY)
            self._prompt.clear()
            try:
                await self.evaluate()
            except Exception:
                log.exception("complaint-rate evaluation failed; trying again")

    async def _every(self, seconds: float, job: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await job()
            except Exception:
                log.exception("reading the paused sender domains failed; trying again")
            await asyncio.sleep(seconds)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
