"""A session's timeouts, checked by one timer per session (issue 11).

- Before the first command: `smtp.greeting_timeout`.
- Idle: `smtp.timeout` since the client last sent a byte, in every phase, DATA included, so
  a slow but steady upload completes and a silent one does not hold the session. Time the
  gateway spends on a command (a handler hook) is not the client's idleness.
- The whole session: `smtp.max_session_time`, however busy.

Each is answered `421 4.4.2` before closing (RFC 5321 §4.2.4; RFC 5321 §4.5.3.2 names the
timeouts; RFC 3463 X.4.2 "bad connection"). A byte received only stamps a time; the timer
wakes at the nearest deadline and moves on when the client was active since.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from gateway.config import SmtpConfig
from gateway.pipeline import replies


class SessionClock:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        config: SmtpConfig,
        expire: Callable[[str], None],
    ) -> None:
        self._loop = loop
        self._config = config
        self._expire = expire
        self.started = self.active = loop.time()
        self.commanded = False
        """A first command came: the greeting timeout no longer applies."""
        self._busy = 0
        self._handle: asyncio.TimerHandle | None = loop.call_at(self._deadline()[0], self._check)

    def touch(self) -> None:
        """The client sent something (or the gateway finished its part of a command)."""
        self.active = self._loop.time()

    def busy(self) -> _Busy:
        """While the gateway works on a command the client waits; that is not idleness."""
        return _Busy(self)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _deadline(self) -> tuple[float, str]:
        config = self._config
        deadlines = [
            (self.started + config.max_session_time, replies.SESSION_TOO_LONG),
            (self.active + config.timeout, replies.IDLE_TIMEOUT),
        ]
        if not self.commanded:
            deadlines.append((self.started + config.greeting_timeout, replies.GREETING_TIMEOUT))
        return min(deadlines)

    def _check(self) -> None:
        self._handle = None
        now = self._loop.time()
        when, reply = self._deadline()
        if self._busy and reply is not replies.SESSION_TOO_LONG:
            self.active = now  # idle time starts when the gateway has answered
            when, reply = self._deadline()
        if now >= when:
            self._expire(reply)
            return
        self._handle = self._loop.call_at(when, self._check)


class _Busy:
    def __init__(self, clock: SessionClock) -> None:
        self._clock = clock

    def __enter__(self) -> None:
        self._clock._busy += 1

    def __exit__(self, *_: object) -> None:
        self._clock._busy -= 1
        self._clock.touch()
