"""An SMTP worker process (smtp.processes > 1): `python -m gateway.app.worker FD`.

Started by the serving process (gateway/app/workers.py), never by hand. It reads its start
(config, the instance's name, its number) from the line FD, runs a gateway without listeners or
HTTP, and serves the client sockets the serving process hands it. It stops on SIGTERM, and
when the serving process dies (the kernel sends SIGTERM then, PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
import pickle
import signal
import socket
import sys
import time
from contextlib import AsyncExitStack

from gateway.app.assemble import assemble
from gateway.app.channel import MAX_MESSAGE, Channel, Message
from gateway.app.handover import hand_over
from gateway.app.listeners import install_sessions, prepare_process, reload_tls
from gateway.app.loop import LOOP_FACTORY
from gateway.app.parts import Gateway
from gateway.app.run import stop
from gateway.app.workers import WorkerStart
from gateway.config import SmtpUser
from gateway.logs import setup_logging
from gateway.smtp.auth import Authenticator
from gateway.smtp.limits import HandedOver
from gateway.startup import load_configured_policies, load_shadow_policies, machine_name, server_tls

log = logging.getLogger("gatekeeper")

PR_SET_PDEATHSIG = 1


def main() -> int:
    line = socket.socket(fileno=int(sys.argv[1]))
    _die_with_parent()
    start: WorkerStart = pickle.loads(line.recv(4 * MAX_MESSAGE))
    setup_logging(start.config)
    status = 1
    try:
        with asyncio.Runner(loop_factory=LOOP_FACTORY) as runner:
            status = runner.run(_run(start, line))
    except Exception as exc:  # one line, as for the serving process; the traceback at DEBUG
        log.debug("SMTP worker failed", exc_info=True)
        print(f"gatekeeper: SMTP worker {start.index}: {exc}", file=sys.stderr)
    # Whatever went wrong, a worker never outlives its work: no thread left running (a
    # store connection's, say) may keep the process alive.
    logging.shutdown()
    os._exit(status)


def _die_with_parent() -> None:
    """SIGTERM when the serving process dies, however it dies (Linux; elsewhere the line's
    end stops the worker instead)."""
    name = ctypes.util.find_library("c")
    parent = os.getppid()
    if name is not None and hasattr(ctypes.CDLL(name), "prctl"):
        ctypes.CDLL(name).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the prctl took hold
        os.kill(os.getpid(), signal.SIGTERM)


async def _run(start: WorkerStart, line: socket.socket) -> int:
    stopped = asyncio.Event()
    gateway: Gateway | None = None

    def received(message: Message, fds: list[int]) -> None:
        if gateway is None:  # not started yet: the serving process sends nothing before
            for fd in fds:
                os.close(fd)
            return
        _received(gateway, channel, message, fds)

    channel = Channel(line, received, stopped.set)
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stopped.set)
    try:
        gateway = await _start(start, channel)
    except Exception as exc:
        _tell(channel, {"op": "failed", "error": str(exc).splitlines()[0] if str(exc) else ""})
        raise
    try:
        loop.add_signal_handler(signal.SIGHUP, reload_tls, gateway)
        _tell(channel, {"op": "ready", "holder": gateway.store.holder})
        await stopped.wait()
    finally:
        await stop(gateway)
        channel.close()
    return 0


async def _start(start: WorkerStart, channel: Channel) -> Gateway:
    config = start.config
    policies = load_configured_policies(config)
    shadow = load_shadow_policies(config)
    tls = server_tls(config)
    hostname = machine_name(config)
    async with AsyncExitStack() as undo:
        worker = (start.index, start.instance)
        gateway, handler = await assemble(config, policies, hostname, undo, shadow, worker)
        authenticator = Authenticator.from_config(config.smtp)
        authenticator.report = lambda client: _tell(
            channel, {"op": "auth_failed", "client": client}
        )
        limits = HandedOver(config.smtp, lambda host: _ended(channel, host))
        handler.ask_rate = lambda user: _ask_rate(channel, user)
        install_sessions(gateway, handler, tls, limits, authenticator)
        prepare_process(gateway)  # descriptors, malloc, accept-error sampling
        undo.pop_all()
    return gateway


def _received(gateway: Gateway, channel: Channel, message: Message, fds: list[int]) -> None:
    op = message.get("op")
    if op != "conn":
        for fd in fds:  # only a handed-over connection comes with one
            os.close(fd)
        if op == "metrics":
            channel.answer(message, samples=gateway.metrics.snapshot())
        return
    host = str(message.get("host", ""))
    client = message.get("client")
    if client and gateway.authenticator is not None:
        gateway.authenticator.failures.seed(client, int(message["auth"]), time.monotonic())
    for fd in fds:
        sock = socket.socket(fileno=fd)
        hand_over(gateway, sock, bool(message.get("tls")), lambda: _ended(channel, host))


async def _ask_rate(channel: Channel, user: SmtpUser) -> bool:
    """Whether the serving process counts one more message of `user` within its allowance;
    when it cannot tell (gone, or too slow to answer) the message waits: `451`."""
    try:
        answer = await channel.request({"op": "rate", "user": user.name})
    except (ConnectionError, TimeoutError):
        return False
    return bool(answer.get("ok"))


def _ended(channel: Channel, host: str) -> None:
    """A session handed to this process ended (or never began): the door counts it no more."""
    _tell(channel, {"op": "closed", "host": host})


def _tell(channel: Channel, message: Message) -> None:
    if channel.open:
        channel.send(message)


if __name__ == "__main__":
    sys.exit(main())
