"""What keeps the dashboard's sign-in safe on a hostile network: sessions the server can end,
and a per-address brake on wrong passwords.

Both live in this process's memory: a restart signs everyone out (they sign in again) and
forgets failures (an attacker gains one window per restart, which an operator would see).
Both are bounded, so a flood of addresses or sign-ins cannot grow them without limit.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

CAPACITY = 10_000
"""Sessions or client addresses remembered; beyond it the oldest is dropped."""
WINDOW = 900.0
"""Seconds a failed sign-in counts against its client address."""
DELAY_STEP, DELAY_MAX = 0.25, 2.0
"""Each failure in the window slows the next wrong answer by a step, up to the maximum:
guessing gets slow long before the address is locked out."""

Clock = Callable[[], float]


class SessionTable:
    """Signed-in sessions by id: a cookie names one, and signing out ends it here, so a copy
    of the cookie stops working at once (the signature alone would hold for its lifetime)."""

    def __init__(self, capacity: int = CAPACITY, clock: Clock = time.time) -> None:
        self._expiry: OrderedDict[str, float] = OrderedDict()
        self._capacity = capacity
        self._clock = clock

    def open(self, lifetime: float) -> str:
        sid = secrets.token_hex(16)
        self._expiry[sid] = self._clock() + lifetime
        while len(self._expiry) > self._capacity:
            self._expiry.popitem(last=False)
        return sid

    def valid(self, sid: str) -> bool:
        expiry = self._expiry.get(sid)
        if expiry is None:
            return False
        if expiry < self._clock():
            del self._expiry[sid]
            return False
        return True

    def close(self, sid: str) -> None:
        self._expiry.pop(sid, None)


class LoginThrottle:
    """Failed sign-ins per client address in the last WINDOW seconds: each one delays the
    next answer a little more, and `limit` of them lock the address out (429) until the
    oldest leaves the window. A success forgets the address's failures."""

    def __init__(
        self, limit: int, window: float = WINDOW, capacity: int = CAPACITY, clock: Clock = time.time
    ) -> None:
        self._limit, self._window, self._capacity, self._clock = limit, window, capacity, clock
        self._failures: OrderedDict[str, list[float]] = OrderedDict()

    def retry_after(self, client: str) -> float:
        """Seconds until `client` may try again; 0 when it may now."""
        recent = self._recent(client)
        if len(recent) < self._limit:
            return 0.0
        return max(recent[-self._limit] + self._window - self._clock(), 1.0)

    def failed(self, client: str) -> float:
        """Note a failure; returns the delay its answer should wait."""
        recent = self._recent(client)
        recent.append(self._clock())
        self._failures[client] = recent
        self._failures.move_to_end(client)
        while len(self._failures) > self._capacity:
            self._failures.popitem(last=False)
        return min(DELAY_STEP * (len(recent) - 1), DELAY_MAX)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)

    def _recent(self, client: str) -> list[float]:
        horizon = self._clock() - self._window
        return [t for t in self._failures.get(client, []) if t > horizon]


@dataclass
class OpsGuard:
    throttle: LoginThrottle
    sessions: SessionTable = field(default_factory=SessionTable)


GUARD: web.AppKey[OpsGuard] = web.AppKey("gatekeeper-ops-guard", OpsGuard)
