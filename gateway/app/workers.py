"""The SMTP worker processes of a serving gateway (smtp.processes > 1), seen from it.

Each worker is a whole gateway but for the listeners, HTTP and the webhook dispatcher
(gateway/app/worker.py): its own event loop, store connections, group-commit writer and
delivery, on the one store. What it spools is held under its own name, the instance's with
`/wN` (docs/fleet.md), so when it dies the serving process makes what it held due at once,
and starts it again.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gateway.app.channel import Channel, Message, pair
from gateway.config import Config
from gateway.smtp.auth import Failures
from gateway.startup import StartupError
from gateway.store import Store

log = logging.getLogger("gatekeeper")

STARTUP_TIMEOUT = 120.0
"""Seconds a worker gets to open the store and load the policies."""
RESTART_DELAY = 1.0
"""Seconds before a worker that died is started again (a crash loop stays slow)."""
EXIT_WAIT = 5.0
"""Seconds a dead worker's process gets to be reaped before it is killed."""


@dataclass
class WorkerStart:
    """What a worker is sent first: the serving process's own config, the instance's
    name, and the worker's number."""

    config: Config
    instance: str
    index: int


class Worker:
    """One worker process, the line to it, and the sessions it was given."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.holder = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.channel: Channel | None = None
        self.hosts: Counter[str] = Counter()
        """Its open sessions by client address (to give back to the door's count if it dies)."""
        self.started: asyncio.Future[None] | None = None

    @property
    def open(self) -> int:
        return self.hosts.total()

    def hand_over(self, conn_fd: int, host: str, tls: bool, failures: tuple[str, int]) -> bool:
        """Send the client's socket, with its AUTH failures as (client key, count) seen so
        far by any process; False when the worker cannot take it (gone)."""
        if self.channel is None or not self.channel.open:
            return False
        message: Message = {"op": "conn", "tls": tls, "host": host}
        if failures[1]:
            message["client"], message["auth"] = failures
        try:
            self.channel.send(message, [conn_fd])
        except ConnectionError:
            return False
        self.hosts[host] += 1
        return True

    def ended(self, host: str) -> None:
        self.hosts[host] -= 1
        if self.hosts[host] <= 0:
            del self.hosts[host]


class Workers:
    def __init__(
        self,
        config: Config,
        count: int,
        store: Store,
        released: Callable[[str], None],
        failures: Failures,
        rate_allows: Callable[[str], bool],
    ) -> None:
        self._config = config
        self._store = store
        self._released = released
        self._failures = failures
        self._rate_allows = rate_allows
        self._all = [Worker(i) for i in range(1, count + 1)]
        self._ready: list[Worker] = []
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()

    def ready(self) -> list[Worker]:
        return self._ready

    async def start(self) -> None:
        """Every worker running, or StartupError naming the first that did not start."""
        for worker in self._all:
            self._spawn(worker)
        for worker in self._all:
            assert worker.started is not None
            try:
                await asyncio.wait_for(worker.started, STARTUP_TIMEOUT)
            except (TimeoutError, ConnectionError, RuntimeError) as exc:
                await self.stop(0)
                raise StartupError(
                    f"SMTP worker process {worker.index} did not start: {exc}", "smtp.processes"
                ) from exc

    def _spawn(self, worker: Worker) -> None:
        ours, theirs = pair()
        command = [sys.executable, "-m", "gateway.app.worker", str(theirs.fileno())]
        worker.process = subprocess.Popen(
            command,
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        theirs.close()
        start = WorkerStart(self._config, self._store.holder, worker.index)
        ours.send(pickle.dumps(start))
        worker.started = asyncio.get_running_loop().create_future()
        worker.channel = Channel(
            ours,
            lambda message, fds: self._received(worker, message, fds),
            lambda: self._gone(worker),
        )

    def _received(self, worker: Worker, message: Message, fds: list[int]) -> None:
        for fd in fds:  # a worker sends no sockets: never leak one
            os.close(fd)
        op = message.get("op")
        if op == "closed":
            worker.ended(message["host"])
            self._released(message["host"])
        elif op == "auth_failed":
            self._failures.add(message["client"], time.monotonic())
        elif op == "rate" and worker.channel is not None:
            worker.channel.answer(message, ok=self._rate_allows(message["user"]))
        elif op == "ready":
            worker.holder = message["holder"]
            self._ready = [w for w in self._all if w is worker or w in self._ready]
            _settle(worker.started, None)
        elif op == "failed":
            _settle(worker.started, RuntimeError(message.get("error", "unknown error")))

    def _gone(self, worker: Worker) -> None:
        """The line closed: the worker exited (or was killed)."""
        self._ready = [w for w in self._ready if w is not worker]
        _settle(worker.started, ConnectionError("it exited"))
        for host, count in worker.hosts.items():
            for _ in range(count):
                self._released(host)
        worker.hosts.clear()
        if self._stopping:
            return
        task = asyncio.get_running_loop().create_task(self._replace(worker))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _replace(self, worker: Worker) -> None:
        code = await _reap(worker.process)
        log.error(
            "SMTP worker process %d ended (exit status %s): its open sessions are gone; "
            "the mail it held is due now; starting it again",
            worker.index,
            code,
        )
        if worker.holder:
            try:
                await self._store.spool_release_held(time.time(), worker.holder)
            except Exception as exc:  # the lease runs out instead (delivery.lease)
                log.warning("mail held by worker %d not released: %s", worker.index, exc)
        await asyncio.sleep(RESTART_DELAY)
        if not self._stopping:
            self._spawn(worker)

    def signal(self, number: int) -> None:
        for worker in self._all:
            if worker.process is not None and worker.process.poll() is None:
                worker.process.send_signal(number)

    async def stop(self, grace: float) -> None:
        """SIGTERM: each worker finishes its sessions (bounded by `grace`) and stops."""
        self._stopping = True
        self.signal(signal.SIGTERM)
        deadline = time.monotonic() + grace + EXIT_WAIT
        for worker in self._all:
            await _reap(worker.process, max(deadline - time.monotonic(), 0.1))
            if worker.channel is not None:
                worker.channel.close()
        for task in self._tasks:
            task.cancel()

    async def metrics(self) -> list[list[Any]]:
        """The per-process metric samples of every worker that answers in time."""
        answers = await asyncio.gather(
            *(w.channel.request({"op": "metrics"}) for w in self._ready if w.channel),
            return_exceptions=True,
        )
        return [s for a in answers if isinstance(a, dict) for s in a.get("samples", [])]


def _settle(future: asyncio.Future[None] | None, error: BaseException | None) -> None:
    if future is None or future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
        future.exception()  # read here: nobody may await it any more


async def _reap(process: subprocess.Popen[bytes] | None, wait: float = EXIT_WAIT) -> int | None:
    """The exit status; a process still running after `wait` seconds is killed."""
    if process is None:
        return None
    deadline = time.monotonic() + wait
    while process.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if process.poll() is None:
        process.kill()
        return process.wait()
    return process.returncode
