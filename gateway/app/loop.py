"""The event loop every gateway process runs on: uvloop when installed (the extra `fast`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

LoopFactory = Callable[[], asyncio.AbstractEventLoop]
try:
    from uvloop import new_event_loop as fast_loop

    LOOP_FACTORY: LoopFactory | None = fast_loop
except ImportError:  # same semantics, a slower loop
    LOOP_FACTORY = None
