"""What all SMTP sessions of one gateway share: how many are open, from which address, how
many DATA bytes they hold, and how fast each login starts messages (issue 11).

Every limit is an `[smtp]` key (gateway/config_limits.py) with its reply in
pipeline/replies.py. A flood is logged as one line per `LOG_EVERY` seconds with a count,
never one line per refused connection.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, deque
from collections.abc import Callable

from gateway.config import SmtpConfig, SmtpUser
from gateway.pipeline import replies

log = logging.getLogger(__name__)

LOG_EVERY = 10.0
"""Seconds between two log lines about the same kind of refusal."""


def peer_host(peer: object) -> str:
    """The address a client's sessions are counted by: the host of its (host, port) peer."""
    return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer or "")


class Sampled:
    """One log line per `every` seconds for a repeated event, with the count since the last."""

    def __init__(self, logger: logging.Logger, every: float = LOG_EVERY) -> None:
        self._log = logger
        self._every = every
        self._last = 0.0
        self._count = 0

    def note(self, message: str, *args: object) -> None:
        self._count += 1
        now = time.monotonic()
        if self._last and now - self._last < self._every:
            return
        self._log.warning(message + " (%d times since the last such line)", *args, self._count)
        self._last = now
        self._count = 0


class SessionLimits:
    """Admission of new sessions (RFC 5321 §3.8: `421` as the greeting, then close) and the
    budget of DATA bytes held by all sessions at once (`452 4.3.1` beyond)."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.open = 0
        self.per_client: Counter[str] = Counter()
        self.inflight = 0
        self._refusals = Sampled(log)

    def refusal(self, host: str) -> str | None:
        """The 421 a session from `host` would get now, or None (nothing counted or logged)."""
        if self.open >= self.config.max_sessions:
            return replies.TOO_MANY_SESSIONS
        if self.per_client[host] >= self.config.max_sessions_per_client:
            return replies.TOO_MANY_SESSIONS_FROM_CLIENT
        return None

    def admit(self, host: str) -> str | None:
        """None and the session counted, or the 421 that refuses it."""
        refusal = self.refusal(host)
        if refusal is not None:
            self._refusals.note(
                "SMTP connection from %s refused: %d sessions open, %d from it",
                host,
                self.open,
                self.per_client[host],
            )
            return refusal
        self.open += 1
        self.per_client[host] += 1
        return None

    def release(self, host: str) -> None:
        self.open -= 1
        self.per_client[host] -= 1
        if self.per_client[host] <= 0:
            del self.per_client[host]

    def reserve(self, size: int) -> bool:
        """Take `size` bytes of the shared DATA budget, if that many are left."""
        if self.inflight + size > self.config.max_inflight_bytes:
            return False
        self.inflight += size
        return True

    def unreserve(self, size: int) -> None:
        self.inflight -= size


class HandedOver(SessionLimits):
    """The sessions of a process that did not accept them (smtp.processes): the accepting
    process admitted each against the limits of all; this one keeps only its own DATA
    budget and reports every session's end with `ended`."""

    def __init__(self, config: SmtpConfig, ended: Callable[[str], None]) -> None:
        super().__init__(config)
        self._ended = ended

    def admit(self, host: str) -> str | None:
        return None

    def release(self, host: str) -> None:
        self._ended(host)


class RateLimiter:
    """Messages per login per minute: a sliding window of the last minute's MAIL commands."""

    WINDOW = 60.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started: dict[str, deque[float]] = {}

    def allow(self, user: SmtpUser) -> bool:
        """True (and the message counted) while the login is within its allowance."""
        if user.rate_per_minute <= 0:
            return True
        now = self._clock()
        times = self._started.setdefault(user.name, deque())
        while times and times[0] <= now - self.WINDOW:
            times.popleft()
        if len(times) >= user.rate_per_minute:
            return False
        times.append(now)
        return True
