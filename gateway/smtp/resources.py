"""Process resources the SMTP listener depends on, set once at start (issue 11).

- The file-descriptor soft limit raised to the hard limit: every session is a descriptor,
  and at the limit `accept()` fails for SMTP and HTTP alike.
- The event loop's exception handler samples `accept()` failures: asyncio reports each one
  with a traceback and retries a second later, so a flood at the descriptor limit wrote
  hundreds of thousands of tracebacks; here it is one line per 10 s with a count.
- glibc's malloc told to give large blocks back (see `return_large_blocks`).
- What start-up made kept out of the cyclic collector's full passes (see `freeze_start_up`).
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import logging
import resource
from typing import Any

from gateway.smtp.limits import Sampled

log = logging.getLogger(__name__)

RESERVED_FDS = 64
"""Descriptors kept for the store, the upstream pool, the HTTP listener and logs."""
ACCEPT_FAILED = "socket.accept() out of system resource"
"""asyncio's message for EMFILE/ENFILE/ENOBUFS/ENOMEM in accept (selector_events.py)."""
M_MMAP_THRESHOLD = -3
"""mallopt(3) parameter number in glibc's malloc.h."""
MMAP_THRESHOLD = 1024 * 1024


def raise_fd_limit(sessions: int) -> int:
    """The soft RLIMIT_NOFILE raised to the hard one; a warning when `sessions` cannot fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft, hard, exc)
    if soft != resource.RLIM_INFINITY and sessions + RESERVED_FDS > soft:
        log.warning(
            "smtp.max_sessions = %d does not fit the open-file limit %d (ulimit -n): "
            "lower it or raise the limit",
            sessions,
            soft,
        )
    return int(soft)


def sample_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Install (once per loop) a handler that samples accept failures, passing the rest on."""
    previous = loop.get_exception_handler()
    if getattr(previous, "samples_accept_errors", False):
        return
    sampled = Sampled(log)

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == ACCEPT_FAILED:
            sampled.note("accept() failed: %s", context.get("exception"))
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    handle.samples_accept_errors = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handle)


def _libc() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    libc = ctypes.CDLL(name)
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


_LIBC = _libc()


def return_large_blocks() -> None:
    """glibc only: every block of 1 MiB or more gets its own mmap, unmapped when freed.

    By default glibc raises its mmap threshold to the size of each large block freed (up to
    32 MiB), so after one 20 MB message the next ones come from the heap, whose pages stay
    with the process: that is how RSS stayed at 513 MB after five 20 MB messages. A fixed
    threshold keeps message buffers in mmaps that go back to the system as they are freed.
    """
    if _LIBC is not None:
        _LIBC.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def trim() -> None:
    """Give freed heap pages back (malloc_trim(3)); after a large message is spooled."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def freeze_start_up() -> None:
    """Start-up's objects (modules, policies, configuration, compiled patterns) moved to
    the collector's permanent generation.

    A full collection scans every object the collector tracks, and it runs on the event
    loop's thread: in `bench/run_all.sh` workload 1 each serving process made two in
    10,000 messages, each holding every session for 52-70 ms; with start-up frozen they
    took 4-6 ms (docs/performance.md, sixth round). A pause like that delays every message
    under way and is what a p99 shows. Frozen objects are still freed by reference count;
    `thaw` gives them back to the collector when the gateway stops. No collection first:
    start-up leaves little garbage, and one collection of the test suite's heap for every
    gateway it starts cost 30 ms each."""
    gc.freeze()


def thaw() -> None:
    """The frozen objects back under the collector, for a process that goes on after
    its gateway stopped (an embedding, the test suite)."""
    gc.unfreeze()
