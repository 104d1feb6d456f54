"""A malformed-message corpus (tests/data/malformed/) through real sessions.

Each message goes as it is, declared marketing and declared transactional, to a gateway with
unsubscribe links and the footer on, to a recipient who consented: classification, content
rules and every transform read it. Every one must get a reply — 2xx, or a deliberate 5xx
with an enhanced code — never a dropped connection or a 4xx fault; whatever was answered 250
reaches the upstream; and the gateway then still serves a normal message.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from tests.hostile.wire import ENHANCED_5XX, FAN, NORMAL, marketing_gateway, send_message

CORPUS = sorted((Path(__file__).parents[1] / "data" / "malformed").glob("*.eml"))
DECLARATIONS = {
    "as-is": b"",
    "marketing": b"X-Gatekeeper-Purpose: marketing\r\nX-Gatekeeper-Topic: newsletter\r\n",
    "transactional": b"X-Gatekeeper-Purpose: transactional\r\n",
}


def test_the_corpus_is_large_enough():
    assert len(CORPUS) >= 40


@pytest.mark.parametrize("declared", DECLARATIONS)
async def test_every_malformed_message_gets_a_deliberate_reply(
    upstream, gateway_factory, caplog, declared
):
    gw = await marketing_gateway(gateway_factory, upstream)
    caplog.set_level(logging.ERROR)
    problems: list[str] = []
    accepted = 0
    for path in CORPUS:
        reply = await send_message(gw.smtp_port, DECLARATIONS[declared] + path.read_bytes())
        if reply.startswith(b"250 2.0.0"):
            accepted += 1
        elif not ENHANCED_5XX.match(reply):
            problems.append(f"{path.name}: {reply!r}")
    faults = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert problems == [], problems
    assert faults == [], faults

    reply = await send_message(gw.smtp_port, DECLARATIONS[declared] + NORMAL)
    assert reply.startswith(b"250 2.0.0"), reply
    # Nothing answered 250 is lost between the reply and the upstream.
    await _wait_for_count(upstream, accepted + 1)
    assert all(m.recipients == [FAN] for m in upstream.handler.messages)


async def _wait_for_count(upstream, count: int) -> None:
    for _ in range(1200):
        with upstream.handler.lock:
            if len(upstream.handler.messages) >= count:
                return
        await asyncio.sleep(0.05)
    raise AssertionError(f"upstream got {len(upstream.handler.messages)} of {count} messages")
