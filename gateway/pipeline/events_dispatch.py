"""Sends the events outbox (docs/design.md §9): claims due events from the store, POSTs each
to its endpoint signed as Standard Webhooks says, and records the outcome. A 2xx answer is
delivery; anything else (an error status, a refused connection, a timeout) is tried again
after an exponential backoff with jitter, until `events.give_up` has passed since the event
was made; then it is `failed` and waits for `gatekeeper events retry`.

Claims are leases, as in the spool: an instance that dies mid-attempt leaves its events
due again once the lease runs out, and instances sharing PostgreSQL claim disjoint events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import replace
from datetime import datetime

import aiohttp

from gateway.config_hooks import EventsConfig
from gateway.config_values import parse_duration
from gateway.pipeline.events import endpoints_by_url, headers
from gateway.store import Store
from gateway.store.records import OutboundEvent, iso_now

log = logging.getLogger(__name__)

POLL = 1.0
"""Seconds between looks at the outbox when nothing was due."""
BATCH = 32
"""Events claimed and sent concurrently at a time."""
ERROR_TEXT = 200
"""Characters of an endpoint's answer kept as the last error."""


class Dispatcher:
    def __init__(self, store: Store, config: EventsConfig, *, poll: float = POLL) -> None:
        self._store = store
        self._config = config
        self._endpoints = endpoints_by_url(config)
        self._give_up = parse_duration(config.give_up)
        self._poll = poll
        self._lease = config.timeout + 30.0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=self._config.timeout)
        self._session = aiohttp.ClientSession(timeout=timeout)
        self._task = asyncio.create_task(self._run(), name="gatekeeper-events")

    def wake(self) -> None:
        """Look at the outbox now (new events were committed, or an operator retried)."""
        self._wake.set()

    async def stop(self) -> None:
        """Events in flight are left to their lease: sent again by the next start."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.run_once()
            except Exception:  # the store is down: try again at the next poll
                log.exception("events: cannot read the outbox")
                sent = 0
            if sent < BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)
                self._wake.clear()

    async def run_once(self) -> int:
        """Send what is due; returns how many events were tried."""
        now = time.time()
        claimed = await self._store.events_claim(now, self._lease, BATCH)
        if claimed:
            done = await asyncio.gather(*(self._attempt(event) for event in claimed))
            await self._store.events_record(done)
        return len(claimed)

    async def _attempt(self, event: OutboundEvent) -> OutboundEvent:
        endpoint = self._endpoints.get(event.endpoint)
        attempts = event.attempts + 1
        if endpoint is None:
            return replace(
                event, status="failed", attempts=attempts, last_error="endpoint not configured"
            )
        error = await self._post(event, headers(endpoint, event, int(time.time())))
        if not error:
            return replace(event, status="delivered", attempts=attempts, delivered_at=iso_now())
        now = time.time()
        status = "failed" if now - _epoch(event.created_at) >= self._give_up else "pending"
        delay = min(self._config.retry_max, self._config.retry_initial * 2 ** (attempts - 1))
        log.warning("event %s to %s not delivered: %s", event.id, event.endpoint, error)
        return replace(
            event,
            status=status,
            attempts=attempts,
            next_attempt=now + delay * random.uniform(0.5, 1.0),  # jitter: no herd after an outage
            last_error=error,
        )

    async def _post(self, event: OutboundEvent, sent_headers: dict[str, str]) -> str:
        """'' when the endpoint answered 2xx, else what went wrong."""
        assert self._session is not None
        try:
            async with self._session.post(
                event.endpoint, data=event.payload.encode(), headers=sent_headers
            ) as response:
                if 200 <= response.status < 300:
                    return ""
                text = (await response.text(errors="replace"))[:ERROR_TEXT]
                return f"HTTP {response.status} {' '.join(text.split())}".strip()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return f"{type(exc).__name__}: {exc}"[:ERROR_TEXT]


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()
