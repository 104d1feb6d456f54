"""The DATA phase's bytes: read up to the end-of-data mark and held once (issue 11).

- Read in large chunks into one bytearray (not line by line: aiosmtpd's line loop is the
  slowest part of its intake), dot-unstuffed in place, then turned into the message's one
  `bytes`; the buffer goes at once. Before, the slice, the `bytes()` of it, the unstuffed
  copy and its `[2:]` held a message 4-5 times over.
- Every byte kept counts against `smtp.max_inflight_bytes`, shared by all sessions.
- Over a limit the rest is still read and dropped, so that the reply comes after the client
  has sent everything (RFC 5321 §4.2.5).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from gateway.pipeline import replies
from gateway.smtp.limits import SessionLimits

END_OF_DATA = b"\r\n.\r\n"
CHUNK = 256 * 1024
MAX_LINE = 998
"""RFC 5322 §2.1.1: a line is at most 998 characters, CRLF excluded."""
_LINE_WINDOW = 1024 * 1024
"""Bytes of lines split at a time when looking for an overlong one."""


@dataclass
class Data:
    data: bytes | None
    """The message; None when over the size limit or `refusal` says why it was not kept."""
    size: int
    reserved: int
    """Bytes of the shared budget this message holds until `SessionLimits.unreserve`."""
    refusal: str | None = None


async def read_data(reader: asyncio.StreamReader, limit: int, limits: SessionLimits) -> Data:
    """Bytes up to the end-of-data mark, dot-unstuffed (RFC 5321 §4.5.2)."""
    # A leading CRLF lets the first line's dot and an empty message match like the rest.
    buffer = bytearray(b"\r\n")
    dropped = reserved = start = 0
    full = False
    try:
        while (found := buffer.find(END_OF_DATA, start)) < 0:
            chunk = await reader.read(CHUNK)
            if not chunk:
                raise ConnectionResetError("client went away during DATA")
            keep = not full and dropped + len(buffer) <= limit + 2
            if keep and limits.reserve(len(chunk)):
                reserved += len(chunk)
            elif keep:  # the shared budget is spent: drop this message, keep reading
                full, keep = True, False
                limits.unreserve(reserved)
                reserved = 0
            if not keep and len(buffer) > 4:
                # Over a limit: keep only a tail long enough to spot the end mark.
                dropped += len(buffer) - 4
                del buffer[:-4]
            start = max(len(buffer) - 4, 0)
            buffer += chunk
    except BaseException:  # the client went away, or the session was cancelled
        limits.unreserve(reserved)
        raise
    _unread(reader, buffer[found + len(END_OF_DATA) :])
    size = dropped + found
    if full or size > limit:
        limits.unreserve(reserved)
        return Data(None, size, 0, replies.INFLIGHT_FULL if full else None)
    del buffer[found + 2 :]  # still led by the CRLF, so line 1 unstuffs too
    _unstuff(buffer)
    del buffer[:2]
    data = bytes(buffer)
    del buffer  # the one copy is the message's; the buffer's pages go back now
    return Data(data, size, reserved, content_problem(data))


def _unstuff(buffer: bytearray) -> None:
    """`CRLF..` -> `CRLF.` in place, moving the bytes between with memoryview copies."""
    read = buffer.find(b"\r\n..")
    if read < 0:
        return
    view = memoryview(buffer)
    write = read
    while read >= 0:
        end = buffer.find(b"\r\n..", read + 3)
        stop = len(buffer) if end < 0 else end
        # keep `CRLF.` of this stuffed line, drop its second dot, keep up to the next one
        view[write : write + 3] = view[read : read + 3]
        view[write + 3 : write + 3 + stop - read - 4] = view[read + 4 : stop]
        write += stop - read - 1
        read = end
    view.release()
    del buffer[write:]


def _unread(reader: asyncio.StreamReader, excess: bytearray) -> None:
    """Give back pipelined commands read past the end of DATA (RFC 2920).

    asyncio's StreamReader has no unread; its buffer is a plain bytearray.
    """
    if excess:
        reader._buffer[:0] = excess  # type: ignore[attr-defined]


def content_problem(data: bytes) -> str | None:
    """The reply for a message whose bytes cannot be relayed, or None."""
    if b"\x00" in data:
        return replies.NUL_IN_MESSAGE
    lines = data.count(b"\n")
    if data.count(b"\r\n") != lines or data.count(b"\r") != lines:
        return replies.BARE_LINE_END
    if len(data) > MAX_LINE and _longest_line(data) > MAX_LINE:
        return replies.line_too_long(MAX_LINE)
    return None


def _longest_line(data: bytes) -> int:
    """Split a window at a time, so the lines never cost another copy of the message."""
    longest = start = 0
    while start < len(data):
        end = data.find(b"\r\n", min(start + _LINE_WINDOW, len(data)))
        end = len(data) if end < 0 else end
        longest = max(longest, *map(len, data[start:end].split(b"\r\n")))
        start = end + 2
    return longest
