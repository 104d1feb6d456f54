"""SMTP AUTH credentials: argon2id or scrypt password hashes from `[[smtp.users]]`.

Hash checks are slow by design (tens of milliseconds of CPU each), which makes them the
cheapest way to tie up a relay. So:

- they run on a pool of their own (`smtp.auth_workers` threads), never on the event loop
  and never on the threads that sign DKIM or write the outbox; when `smtp.auth_queue`
  checks already wait for it, AUTH is answered `454 4.7.0` without a check (RFC 4954 §6),
  after the delay the client's next failure would get;
- a client address that fails is answered later each time (`smtp.auth_delay`, doubling up
  to `smtp.auth_delay_max`; a sleep on the event loop, which holds no thread), and after
  `smtp.auth_max_failures` failures within `smtp.auth_failure_window` seconds its AUTH is
  answered `421 4.7.0` and the connection closed, without a check;
- every failure is logged at WARNING with the client address and the login name (never
  the password);
- a verified password is remembered as a keyed digest, so an app opening a connection per
  message does not pay the slow hash each time.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from gateway.config import SmtpConfig, SmtpUser
from gateway.passwords import hash_password, verify_password
from gateway.pipeline import replies
from gateway.smtp.limits import peer_host

log = logging.getLogger("gatekeeper.auth")

T = TypeVar("T")

MAX_TRACKED = 10_000
"""Client addresses whose failures are remembered; the oldest are forgotten beyond this,
so a flood of addresses cannot grow memory without bound."""


class AuthRefused(Exception):
    """AUTH is answered `reply` without a verdict on the password; `close` ends the session."""

    def __init__(self, reply: str, *, close: bool = False) -> None:
        super().__init__(reply)
        self.reply = reply
        self.close = close


@dataclass(frozen=True)
class Throttle:
    max_failures: int = 10
    window: float = 900.0
    delay: float = 0.5
    delay_max: float = 8.0

    def delay_after(self, failures: int) -> float:
        return min(self.delay * 2 ** (failures - 1), self.delay_max) if failures else 0.0


class CheckPool:
    """A thread pool that refuses work instead of queueing it without end."""

    def __init__(self, workers: int, queue: int) -> None:
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="gatekeeper-auth")
        self.limit = workers + queue
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        return self._pending

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        with self._lock:
            if self._pending >= self.limit:
                raise AuthRefused(replies.AUTH_BUSY)
            self._pending += 1
        # Counted until the thread is done, not until the caller stops waiting: a client
        # that hangs up does not free a place its check still holds.
        future: Future[T] = self.executor.submit(function, *args)
        future.add_done_callback(self._done)
        return await asyncio.wrap_future(future)

    def _done(self, _: Future[Any]) -> None:
        with self._lock:
            self._pending -= 1


class Failures:
    """Failed AUTH attempts per client address (an IPv6 client by its /64: one host's)."""

    def __init__(self, throttle: Throttle) -> None:
        self.throttle = throttle
        self._seen: dict[str, tuple[int, float]] = {}

    def count(self, client: str, now: float) -> int:
        failures, last = self._seen.get(client, (0, now))
        if now - last > self.throttle.window:
            del self._seen[client]
            return 0
        return failures

    def add(self, client: str, now: float) -> int:
        failures = self.count(client, now) + 1
        self._seen.pop(client, None)  # re-inserted last: the dict stays oldest-first
        self._seen[client] = (failures, now)
        while len(self._seen) > MAX_TRACKED:
            del self._seen[next(iter(self._seen))]
        return failures

    def blocked(self, client: str, now: float) -> bool:
        return self.count(client, now) >= self.throttle.max_failures

    def seed(self, client: str, failures: int, now: float) -> None:
        """What the other processes saw of `client` (smtp.processes): its failures there
        count here too, so spreading guesses over sessions gains nothing."""
        if failures > self.count(client, now):
            self._seen.pop(client, None)
            self._seen[client] = (failures, now)


def client_key(peer: object) -> str:
    """The address failures are counted against: the host, or the /64 of an IPv6 host."""
    host = peer_host(peer)
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class Authenticator:
    def __init__(
        self,
        users: Sequence[SmtpUser],
        *,
        workers: int = 2,
        queue: int = 16,
        throttle: Throttle | None = None,
    ) -> None:
        self._users = {user.name: user for user in users}
        self._key = os.urandom(32)
        self._verified: dict[str, bytes] = {}
        # Checked for unknown names too, so a reply's timing does not tell which names exist.
        self._decoy = hash_password(os.urandom(8).hex())
        self.pool = CheckPool(workers, queue)
        self.failures = Failures(throttle or Throttle())
        self.report: Callable[[str], None] | None = None
        """Told each failing client (a worker process tells the serving process)."""

    @classmethod
    def from_config(cls, smtp: SmtpConfig) -> Authenticator:
        throttle = Throttle(
            smtp.auth_max_failures, smtp.auth_failure_window, smtp.auth_delay, smtp.auth_delay_max
        )
        return cls(smtp.users, workers=smtp.auth_workers, queue=smtp.auth_queue, throttle=throttle)

    async def verify(self, name: str, password: str, peer: object = None) -> SmtpUser | None:
        """The user, or None for a wrong name or password (after the client's delay).
        Raises AuthRefused for a client over its failures (421) or a saturated pool (454)."""
        client = client_key(peer)
        if self.failures.blocked(client, time.monotonic()):
            raise AuthRefused(replies.AUTH_TOO_MANY_FAILURES, close=True)
        user = self._users.get(name)
        token = hmac.digest(self._key, f"{name}\0{password}".encode(), "sha256")
        remembered = self._verified.get(name)
        if user is not None and remembered is not None and hmac.compare_digest(remembered, token):
            return user
        encoded = user.password_hash if user is not None else self._decoy
        try:
            ok = await self.pool.run(verify_password, password, encoded)
        except AuthRefused:
            # Answered at once, a client asks again at once: a storm would then spend the
            # event loop's time on 454s. It waits as long as its next failure would.
            failures = self.failures.count(client, time.monotonic())
            await asyncio.sleep(self.failures.throttle.delay_after(failures + 1))
            raise
        if ok and user is not None:
            self._verified[name] = token
            return user
        await self._failed(client, name)
        return None

    async def _failed(self, client: str, name: str) -> None:
        failures = self.failures.add(client, time.monotonic())
        if self.report is not None:
            self.report(client)
        throttle = self.failures.throttle
        if failures >= throttle.max_failures:
            log.warning(
                "AUTH failed for login %r from %s: failure %d, the limit; closing with 421 "
                "(again after %.0f s without failures)",
                name,
                client,
                failures,
                throttle.window,
            )
            raise AuthRefused(replies.AUTH_TOO_MANY_FAILURES, close=True)
        delay = throttle.delay_after(failures)
        log.warning(
            "AUTH failed for login %r from %s: failure %d of %d; answered in %g s",
            name,
            client,
            failures,
            throttle.max_failures,
            delay,
        )
        # On the event loop, not in a thread: a waiting client holds only its connection.
        await asyncio.sleep(delay)
