"""The message after DATA: dot-stuffed a window at a time, the end mark joined to the last
window, so that a small message goes in one write; with PIPELINING and without."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest

from gateway.pipeline.delivery import upstream as upstream_code
from gateway.pipeline.delivery.upstream import UpstreamPool, send
from tests.pipeline.delivery.upstream_server import (
    BODY,
    SENT,
    Pipelining,
    on_both_loops,
    recorded,
)


def test_a_large_message_goes_a_window_at_a_time_the_last_with_the_end_mark(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(upstream_code, "WINDOW", 64)
    kinds: list[type] = []
    monkeypatch.setattr(upstream_code, "_stuffed", _watched(upstream_code._stuffed, kinds))
    lines = [b"plain line %03d\r\n" % n for n in range(40)]
    lines[17:17] = [b".dot line\r\n", b"..two dots\r\n"]
    content = (BODY[0], b".first\r\n" + b"".join(lines))
    sent = re.sub(rb"(?m)^\.", b"..", b"".join(content)) + b".\r\n"

    async def scenario(upstream: Pipelining, pool: UpstreamPool) -> None:
        kinds.clear()
        async with pool.connection() as client:
            writes = recorded(client, monkeypatch)
            await send(client, "app@example.com", ["a@x.test"], content, [])
        assert upstream.delivered == [(["a@x.test"], sent)]
        body = writes[1:]
        assert b"".join(body) == sent and len(body) > 3
        assert body[-1].endswith(b"\r\n.\r\n") and body[-1] != b".\r\n"
        assert all(len(w) < 64 + 20 for w in body)  # a window and a line at most
        assert memoryview in kinds  # windows without a dot-led line are not copied

    on_both_loops(lambda: Pipelining(group=3), scenario)


Stuffer = Callable[[bytes], Iterator[bytes | memoryview]]


def _watched(stuffed: Stuffer, kinds: list[type]) -> Stuffer:
    """`stuffed` noting the type of each window it yields."""

    def watching(piece: bytes) -> Iterator[bytes | memoryview]:
        for window in stuffed(piece):
            kinds.append(type(window))
            yield window

    return watching


def test_without_pipelining_each_command_waits_for_its_reply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def scenario(upstream: Pipelining, pool: UpstreamPool) -> None:
        async with pool.connection() as client:
            writes = recorded(client, monkeypatch)
            refused, reply = await send(client, "app@example.com", ["a@x.test"], BODY, [])
        assert (refused, reply) == ({}, "2.0.0 queued")
        assert writes == [
            b"MAIL FROM:<app@example.com>\r\n",
            b"RCPT TO:<a@x.test>\r\n",
            b"DATA\r\n",
            SENT,
        ]
        assert upstream.delivered == [(["a@x.test"], SENT)]

    on_both_loops(lambda: Pipelining(group=1, pipelining=False), scenario)
