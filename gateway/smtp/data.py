"""The DATA phase's bytes: read up to the end-of-data mark and held once (issue 11).

- Read in large chunks (not line by line: aiosmtpd's line loop is the slowest part of its
  intake), dot-unstuffed a chunk at a time and written into an `io.BytesIO`, whose
  `getvalue()` hands over the very `bytes` object it grew (CPython: no copy while nothing
  else holds its buffer). So the message exists once, also at the end of DATA; before, a
  `bytearray` and the `bytes()` of it coexisted there (2 x the message; 4-5 x earlier with the
  slice, the unstuffed copy and its `[2:]`).
- Every byte kept counts against `smtp.max_inflight_bytes`, shared by all sessions.
- Over a limit the rest is still read and dropped, so that the reply comes after the client
  has sent everything (RFC 5321 §4.2.5).
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass

from gateway.pipeline import replies
from gateway.smtp.limits import SessionLimits

END_OF_DATA = b"\r\n.\r\n"
STUFFED = b"\r\n.."
CHUNK = 256 * 1024
MAX_LINE = 998
"""RFC 5322 §2.1.1: a line is at most 998 characters, CRLF excluded."""
_BLOCK = (MAX_LINE + 1) // 2
"""Every run of 2 x _BLOCK - 1 bytes covers a whole block of _BLOCK bytes that starts at a
multiple of _BLOCK."""
_LINE_WINDOW = 256 * 1024
"""Bytes of lines split at a time when looking for an overlong one."""
_OPEN_ENDS = (b"\r\n.\r", b"\r\n.", b"\r\n", b"\r")
"""Ends of a chunk that may begin the end mark or a stuffed dot: kept for the next one."""


@dataclass
class Data:
    data: bytes | None
    """The message; None when over the size limit or `refusal` says why it was not kept."""
    size: int
    reserved: int
    """Bytes of the shared budget this message holds until `SessionLimits.unreserve`."""
    refusal: str | None = None


class _Intake:
    """The message as it is read: unstuffed pieces appended to one growing buffer."""

    def __init__(self, limit: int, limits: SessionLimits) -> None:
        self.limit = limit
        self.limits = limits
        self.buffer: io.BytesIO | None = io.BytesIO()
        self.size = -2
        """Bytes of the message as sent (stuffed), without the leading CRLF of `read_data`."""
        self.reserved = 0
        self.full = False
        self._lead = 2

    def take(self, chunk_size: int) -> None:
        """Reserve the next chunk's bytes, or stop keeping the message (over a limit)."""
        if self.buffer is None:
            return
        if self.size <= self.limit and self.limits.reserve(chunk_size):
            self.reserved += chunk_size
            return
        self.full = self.size <= self.limit  # else over the size limit: not the budget
        self.drop()

    def drop(self) -> None:
        self.buffer = None
        self.limits.unreserve(self.reserved)
        self.reserved = 0

    def write(self, piece: bytes, end: int) -> None:
        """`piece[:end]`, whole lines' worth of the stuffed stream, unstuffed and kept."""
        self.size += end
        if self.buffer is None:
            return
        view = memoryview(piece)[:end]
        if piece.find(STUFFED, 0, end) >= 0:  # no match crosses `end` (see `_open_end`)
            view = memoryview(piece[:end].replace(STUFFED, b"\r\n."))
        lead = min(self._lead, len(view))  # the leading CRLF is no part of the message
        self._lead -= lead
        self.buffer.write(view[lead:])

    def message(self) -> bytes:
        assert self.buffer is not None
        data = self.buffer.getvalue()  # the buffer's own bytes object, not a copy
        self.buffer.close()
        self.buffer = None
        return data


async def read_data(reader: asyncio.StreamReader, limit: int, limits: SessionLimits) -> Data:
    """Bytes up to the end-of-data mark, dot-unstuffed (RFC 5321 §4.5.2)."""
    intake = _Intake(limit, limits)
    # A leading CRLF lets the first line's dot and an empty message match like the rest.
    pending = b"\r\n"
    try:
        while True:
            chunk = await reader.read(CHUNK)
            if not chunk:
                raise ConnectionResetError("client went away during DATA")
            intake.take(len(chunk))
            piece = pending + chunk
            if (found := piece.find(END_OF_DATA)) >= 0:
                break
            end = len(piece) - _open_end(piece)
            intake.write(piece, end)
            pending = piece[end:]
        intake.write(piece, found + 2)  # the message ends with the CRLF before the dot
    except BaseException:  # the client went away, or the session was cancelled
        intake.drop()
        raise
    _unread(reader, memoryview(piece)[found + len(END_OF_DATA) :])
    if intake.buffer is None or intake.size > limit:
        full = intake.full
        intake.drop()
        return Data(None, intake.size, 0, replies.INFLIGHT_FULL if full else None)
    data = intake.message()
    return Data(data, intake.size, intake.reserved, content_problem(data))


def _open_end(piece: bytes) -> int:
    """How many bytes at the end of `piece` may start the end mark or a stuffed dot.

    Every end of the two that `piece` may cut off is one of `_OPEN_ENDS`, the longest found
    is kept back; and as a stuffed dot has a CR only first, none crosses into those bytes.
    """
    for end in _OPEN_ENDS:
        if piece.endswith(end):
            return len(end)
    return 0


def _unread(reader: asyncio.StreamReader, excess: memoryview) -> None:
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
    if _may_hold_long_line(data) and _longest_line(data) > MAX_LINE:
        return replies.line_too_long(MAX_LINE)
    return None


def _may_hold_long_line(data: bytes) -> bool:
    """Whether some block of _BLOCK bytes holds no LF: a line over MAX_LINE (with its CR, at
    least MAX_LINE + 1 bytes without an LF) always covers a whole one, so most messages are
    cleared by a search per block instead of splitting their lines."""
    return any(
        data.find(b"\n", at, at + _BLOCK) < 0 for at in range(0, len(data) - _BLOCK + 1, _BLOCK)
    )


def _longest_line(data: bytes) -> int:
    """Split a window at a time, so the lines never cost another copy of the message."""
    longest = start = 0
    while start < len(data):
        end = data.find(b"\r\n", min(start + _LINE_WINDOW, len(data)))
        end = len(data) if end < 0 else end
        longest = max(longest, *map(len, data[start:end].split(b"\r\n")))
        start = end + 2
    return longest
