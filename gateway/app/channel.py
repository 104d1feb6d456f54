"""The line between the serving process and one of its SMTP worker processes.

An AF_UNIX SOCK_SEQPACKET pair: the kernel keeps message boundaries and carries a client's
socket with the message that hands it over (SCM_RIGHTS), so there is no framing to write.
Each message is one JSON object; one with an `id` is a request whose answer comes back as
`{"re": id, ...}`. Everything runs on the event loop: a message is read when the socket is
readable, never by a thread.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger("gatekeeper")

Message = dict[str, Any]
Receiver = Callable[[Message, list[int]], None]

MAX_MESSAGE = 256 * 1024
"""Largest message, a worker's metrics included (a few KB in practice)."""
MAX_FDS = 4
REQUEST_TIMEOUT = 5.0
"""Seconds a request waits for its answer (a worker busy for longer is reported as absent)."""


def pair() -> tuple[socket.socket, socket.socket]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    for end in (ours, theirs):
        end.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * MAX_MESSAGE)
    return ours, theirs


class Channel:
    """One end: `send` a message (with sockets to hand over), `request` one and await the
    answer; every other message goes to `receive`, and the end of the line to `closed`."""

    def __init__(self, sock: socket.socket, receive: Receiver, closed: Callable[[], None]) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._receive = receive
        self._closed = closed
        self._loop = asyncio.get_running_loop()
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Message]] = {}
        self._queue: deque[tuple[bytes, list[int]]] = deque()
        self._open = True
        self._loop.add_reader(sock.fileno(), self._readable)

    @property
    def open(self) -> bool:
        return self._open

    def send(self, message: Message, fds: Sequence[int] = ()) -> None:
        """Queue `message`; the fds are duplicated by the kernel at send, so the caller may
        close its own copies as soon as this returns (they are sent at once or kept open
        until they are)."""
        if not self._open:
            raise ConnectionError("the worker's line is closed")
        data = json.dumps(message, separators=(",", ":")).encode()
        if self._queue or not self._try_send(data, list(fds)):
            self._queue.append((data, [socket.dup(fd) for fd in fds]))
            self._loop.add_writer(self._sock.fileno(), self._writable)

    async def request(self, message: Message) -> Message:
        ident = next(self._ids)
        future: asyncio.Future[Message] = self._loop.create_future()
        self._waiting[ident] = future
        try:
            self.send({**message, "id": ident})
            return await asyncio.wait_for(future, REQUEST_TIMEOUT)
        finally:
            self._waiting.pop(ident, None)

    def answer(self, request: Message, **answer: Any) -> None:
        self.send({"re": request["id"], **answer})

    def close(self) -> None:
        if not self._open:
            return
        self._open = False
        self._loop.remove_reader(self._sock.fileno())
        self._loop.remove_writer(self._sock.fileno())
        for _, fds in self._queue:
            for fd in fds:
                socket.close(fd)
        self._queue.clear()
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("the worker's line closed"))
        self._sock.close()
        self._closed()

    def _try_send(self, data: bytes, fds: list[int]) -> bool:
        try:
            socket.send_fds(self._sock, [data], fds)
        except BlockingIOError:
            return False
        except OSError as exc:
            log.warning("worker line broken: %s", exc)
            self.close()
        return True

    def _writable(self) -> None:
        while self._queue and self._open:
            data, fds = self._queue[0]
            if not self._try_send(data, fds):
                return
            self._queue.popleft()
            for fd in fds:
                socket.close(fd)
        if self._open:
            self._loop.remove_writer(self._sock.fileno())

    def _readable(self) -> None:
        while self._open:
            try:
                data, fds, _, _ = socket.recv_fds(self._sock, MAX_MESSAGE, MAX_FDS)
            except BlockingIOError:
                return
            except OSError as exc:
                log.warning("worker line broken: %s", exc)
                data, fds = b"", []
            if not data:
                self.close()
                return
            self._dispatch(json.loads(data), fds)

    def _dispatch(self, message: Message, fds: list[int]) -> None:
        answered = message.get("re")
        if answered is None:
            self._receive(message, fds)
            return
        future = self._waiting.get(answered)
        if future is not None and not future.done():
            future.set_result(message)
