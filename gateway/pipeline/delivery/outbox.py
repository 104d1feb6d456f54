"""Outbox upstream (the embedded default): one .eml file per message and recipient.

Files appear atomically (temp name, fsync, rename, fsync of the directory), so a reader never
sees half a message and a crash never leaves one behind that looks complete. The writes
(two fsyncs each) run on a pool of their own (`WRITING`): a slow disk holds back neither the
AUTH password checks nor DKIM signing, which have theirs.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

WRITING = ThreadPoolExecutor(4, thread_name_prefix="gatekeeper-outbox")
"""Outbox threads: enough for fsyncs to overlap, bounded so a slow disk ties up only these."""


def _envelope_fields(sender: str, recipient: str) -> bytes:
    # What a local delivery agent adds (RFC 5321 §4.4): who it came from and was delivered to.
    return f"Return-Path: <{sender}>\r\nDelivered-To: {recipient}\r\n".encode()


def write_eml(
    directory: Path, name: str, sender: str, recipient: str, content: Sequence[bytes]
) -> Path:
    """`content`'s pieces one after the other: a large message is written, not joined."""
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{name}.eml"
    temp = directory / f".{name}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    try:
        os.write(fd, _envelope_fields(sender, recipient))
        for piece in content:
            view = memoryview(piece)
            while view:
                view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, final)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return final


async def deliver_to_outbox(
    directory: Path, name: str, sender: str, recipient: str, content: Sequence[bytes]
) -> Path:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        WRITING, write_eml, directory, name, sender, recipient, content
    )
