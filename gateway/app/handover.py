"""Serving a client socket that was accepted elsewhere (smtp.processes): in the serving
process, by the door (gateway/app/door.py); in a worker process, after the door sent it over.

Either way the session is made by the gateway's one session factory, so it has the same
limits, AUTH and TLS as a session of a listener of its own.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

from gateway.app.parts import Gateway
from gateway.smtp.tls import HANDSHAKE_TIMEOUT, AfterHandshake

log = logging.getLogger("gatekeeper")


async def serve_socket(
    gateway: Gateway, sock: socket.socket, tls: bool, unserved: Callable[[], None]
) -> None:
    """A session on `sock`; `tls` for a client of smtp.tls_listen (the handshake first).
    `unserved` is told when no session came of it (a failed handshake, a socket already
    gone), since only a session that was made reports its own end."""
    factory = gateway.smtp_factory
    assert factory is not None
    loop = asyncio.get_running_loop()
    sock.setblocking(False)
    try:
        if tls and gateway.tls is not None:
            await loop.connect_accepted_socket(
                lambda: AfterHandshake(factory),
                sock,
                ssl=gateway.tls,
                ssl_handshake_timeout=HANDSHAKE_TIMEOUT,
            )
        else:
            await loop.connect_accepted_socket(factory, sock)
    except (TimeoutError, OSError, ValueError) as exc:
        log.debug("handed-over connection not served: %s", exc)
        sock.close()
        unserved()


def hand_over(
    gateway: Gateway, sock: socket.socket, tls: bool, unserved: Callable[[], None]
) -> None:
    task = asyncio.get_running_loop().create_task(serve_socket(gateway, sock, tls, unserved))
    gateway.handovers.add(task)
    task.add_done_callback(gateway.handovers.discard)
