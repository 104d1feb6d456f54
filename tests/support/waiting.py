"""Bounded waits for a positive condition, never a sleep followed by "nothing happened"."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.app import Gateway
    from gateway.store.records import QueueEntry


async def wait_until(predicate: Any, timeout: float = 20.0, interval: float = 0.05) -> None:
    """Poll `predicate` (plain or async) until it is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(interval)
    raise AssertionError("condition not met in time")


async def settled(gw: Gateway, timeout: float = 20.0) -> list[QueueEntry]:
    """The spool once the gateway is at rest: every SMTP session closed, delivery holding no
    message in memory, and everything handed to the writer committed. What is not in it by
    then (and not upstream already) is never sent: mail leaves only through the spool."""
    await wait_until(lambda: not gw.sessions and gw.delivery.backlog == 0, timeout)
    await gw.writer.flush()
    return await gw.store.spool_list()
