"""The door of a gateway with several SMTP processes (smtp.processes > 1).

The serving process alone listens. It accepts each connection, admits it against the limits
of all sessions of all processes (smtp.max_sessions, smtp.max_sessions_per_client: `421`
at the door), and hands it to the process with the fewest open sessions, itself included.
A worker reports each session's end, and each failed AUTH, so the counts stay whole.

Why not SO_REUSEPORT, one listener per process: the kernel would spread connections by a
hash of their addresses, blind to how busy each process is, and every per-client limit
would become one per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import ssl
import time

from gateway.app.handover import hand_over
from gateway.app.listeners import install_sessions, prepare_process
from gateway.app.parts import Gateway
from gateway.app.workers import Worker, Workers
from gateway.config_values import parse_hostport
from gateway.smtp.auth import Authenticator, client_key
from gateway.smtp.handler import Handler
from gateway.smtp.limits import HandedOver, Sampled, SessionLimits, peer_host
from gateway.startup import listen_error

log = logging.getLogger("gatekeeper")

ACCEPT_BATCH = 64
"""Connections taken per wake-up, so a burst does not cost a loop turn each."""
PAUSE_WHEN_OUT = 0.1
"""Seconds accepting pauses when the process is out of descriptors (the sessions it has
end meanwhile); asyncio's own listener waits a whole second."""
OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
ADMIT_WAIT = 0.025
ADMIT_WAITS = 4
"""A connection over a session limit waits up to ADMIT_WAIT x ADMIT_WAITS seconds for the
workers' news of sessions that ended before it is refused (greeting `421`)."""


def listen_socket(listen: str, backlog: int, what: str) -> socket.socket:
    host, port = parse_hostport(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=backlog)
    except OSError as exc:
        raise listen_error(what, listen, exc) from exc
    sock.setblocking(False)
    return sock


class Door:
    def __init__(
        self,
        gateway: Gateway,
        limits: SessionLimits,
        authenticator: Authenticator,
        workers: Workers,
    ) -> None:
        self._gateway = gateway
        self._limits = limits
        self._auth = authenticator
        self.workers = workers
        self.local_open = 0
        self._turn = 0
        self._listeners: list[tuple[socket.socket, bool]] = []
        self._out = Sampled(log)
        self._loop = asyncio.get_running_loop()

    @property
    def port(self) -> int:
        return int(self._listeners[0][0].getsockname()[1])

    def open(self, sock: socket.socket, tls: bool) -> None:
        self._listeners.append((sock, tls))
        self._loop.add_reader(sock.fileno(), self._accept, sock, tls)

    def close(self) -> None:
        for sock, _ in self._listeners:
            self._loop.remove_reader(sock.fileno())
            sock.close()
        self._listeners.clear()

    def local_ended(self, host: str) -> None:
        """A session of this process ended (its limits' `release`)."""
        self.local_open -= 1
        self._limits.release(host)

    def _accept(self, listener: socket.socket, tls: bool) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, peer = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._accept_failed(listener, tls, exc)
                return
            self._admit(conn, peer, tls)

    def _accept_failed(self, listener: socket.socket, tls: bool, exc: OSError) -> None:
        if exc.errno not in OUT_OF_RESOURCES:
            return  # the client gave up before it was accepted (ECONNABORTED): nothing lost
        self._out.note("accept() failed: %s", exc)
        self._loop.remove_reader(listener.fileno())
        self._loop.call_later(PAUSE_WHEN_OUT, self._resume, listener, tls)

    def _resume(self, listener: socket.socket, tls: bool) -> None:
        if (listener, tls) in self._listeners:
            self._loop.add_reader(listener.fileno(), self._accept, listener, tls)

    def _admit(self, conn: socket.socket, peer: object, tls: bool, waited: int = 0) -> None:
        if not self._listeners:  # closed while it waited: stopping
            conn.close()
            return
        host = peer_host(peer)
        if waited < ADMIT_WAITS and self.workers.ready() and self._limits.refusal(host):
            # A worker tells of a session's end a moment after the client has seen it end,
            # and a client that reconnects at once would meet a count that lags behind.
            self._loop.call_later(ADMIT_WAIT, self._admit, conn, peer, tls, waited + 1)
            return
        refusal = self._limits.admit(host)
        if refusal is not None:  # RFC 5321 §3.8: 421 as the greeting, then close
            with contextlib.suppress(OSError):  # it may be gone already: nothing to tell
                conn.send(refusal.encode() + b"\r\n", socket.MSG_DONTWAIT)
            conn.close()
            return
        worker = self._pick()
        if worker is not None:
            client = client_key(peer)
            failures = (client, self._auth.failures.count(client, time.monotonic()))
            if worker.hand_over(conn.fileno(), host, tls, failures):
                conn.close()  # the worker has its own descriptor of it now
                return
        # this process's own, or a worker's that could not take it (it just died)
        self.local_open += 1
        hand_over(self._gateway, conn, tls, lambda: self.local_ended(host))

    def _pick(self) -> Worker | None:
        """The process with the fewest open sessions (None: this one); ties taken in turn."""
        candidates: list[tuple[int, Worker | None]] = [(self.local_open, None)]
        candidates += [(worker.open, worker) for worker in self.workers.ready()]
        self._turn = (self._turn + 1) % len(candidates)
        rotated = candidates[self._turn :] + candidates[: self._turn]
        return min(rotated, key=lambda candidate: candidate[0])[1]


async def open_door(
    gateway: Gateway, handler: Handler, tls: ssl.SSLContext | None, workers: int
) -> Door:
    """The listeners bound, `workers` worker processes running, then accepting."""
    config = gateway.config
    limits = SessionLimits(config.smtp)  # one count of the sessions of every process
    authenticator = Authenticator.from_config(config.smtp)
    plain = listen_socket(config.smtp.listen, config.smtp.listen_backlog, "SMTP")
    listeners = [(plain, False)]
    if config.smtp.tls_listen and tls is not None:
        listeners.append(
            (
                listen_socket(config.smtp.tls_listen, config.smtp.listen_backlog, "SMTP over TLS"),
                True,
            )
        )
    processes = Workers(
        config,
        workers,
        gateway.store,
        limits.release,
        authenticator.failures,
        handler.rate_allows,  # one count of each login's messages, kept here
    )
    door = Door(gateway, limits, authenticator, processes)
    local = HandedOver(config.smtp, door.local_ended)
    install_sessions(gateway, handler, tls, local, authenticator)
    prepare_process(gateway)
    try:
        await processes.start()
    except BaseException:
        for sock, _ in listeners:
            sock.close()
        raise
    for sock, implicit in listeners:
        door.open(sock, implicit)
    gateway.door = door
    return door
