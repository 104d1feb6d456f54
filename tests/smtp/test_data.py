"""The DATA reader (gateway/smtp/data.py) on a real StreamReader: end mark, dot-unstuffing
in place, pipelined commands given back, the size limit and the shared in-flight budget."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.config import SmtpConfig
from gateway.pipeline import replies
from gateway.smtp.data import MAX_LINE, content_problem, read_data
from gateway.smtp.limits import SessionLimits


async def read(wire: bytes, limit: int = 10_000, budget: int = 10_000):
    reader = asyncio.StreamReader()
    reader.feed_data(wire)
    reader.feed_eof()
    limits = SessionLimits(SmtpConfig(max_inflight_bytes=budget))
    data = await read_data(reader, limit, limits)
    return data, limits, await reader.read()


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b".\r\n", b""),
        (b"a\r\n.\r\n", b"a\r\n"),
        (b"..\r\n.\r\n", b".\r\n"),
        (b"...\r\n.\r\n", b"..\r\n"),
        (b"a\r\n..b\r\n..\r\nc\r\n.\r\n", b"a\r\n.b\r\n.\r\nc\r\n"),
        (b"..a\r\n..b\r\n...c\r\n.\r\n", b".a\r\n.b\r\n..c\r\n"),
        # only a doubled dot is a stuffed one (as before: an unstuffed client's line stays)
        (b"a.\r\n.b\r\n.\r\n", b"a.\r\n.b\r\n"),
    ],
)
async def test_dot_unstuffing(wire, message):
    data, limits, rest = await read(wire)
    assert data.data == message
    assert data.reserved == limits.inflight > 0
    assert rest == b""


async def test_pipelined_commands_after_the_end_are_given_back():
    data, _, rest = await read(b"x\r\n.\r\nQUIT\r\n")
    assert data.data == b"x\r\n"
    assert rest == b"QUIT\r\n"


async def test_over_the_size_limit_is_read_to_the_end_and_dropped():
    data, limits, rest = await read(b"y" * 500 + b"\r\n.\r\nNOOP\r\n", limit=100)
    assert data.data is None and data.refusal is None and data.size > 100
    assert limits.inflight == 0
    assert rest == b"NOOP\r\n"


async def test_over_the_shared_budget_is_452_and_holds_nothing():
    data, limits, rest = await read(b"y" * 500 + b"\r\n.\r\nNOOP\r\n", budget=100)
    assert data.data is None and data.refusal == replies.INFLIGHT_FULL
    assert limits.inflight == 0
    assert rest == b"NOOP\r\n"


async def test_a_lost_client_gives_its_bytes_back():
    reader = asyncio.StreamReader()
    reader.feed_data(b"partial message")
    reader.feed_eof()
    limits = SessionLimits(SmtpConfig())
    with pytest.raises(ConnectionResetError):
        await read_data(reader, 10_000, limits)
    assert limits.inflight == 0


def reference_problem(data: bytes) -> str | None:
    """content_problem as its definition reads, one line at a time."""
    if b"\x00" in data:
        return replies.NUL_IN_MESSAGE
    lines = data.split(b"\r\n")
    if any(b"\r" in line or b"\n" in line for line in lines):
        return replies.BARE_LINE_END
    if max(map(len, lines)) > MAX_LINE:
        return replies.line_too_long(MAX_LINE)
    return None


LINE_LENGTHS = st.sampled_from([0, 1, 76, 497, 498, 499, 500, 997, 998, 999, 1000, 1500, 2100])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(LINE_LENGTHS, st.sampled_from([b"\r\n"] * 10 + [b"\n", b"\r", b"\n\r"]))),
    st.sampled_from([b"", b"a", b"\x00"]),
)
def test_content_problem_is_its_definition(lines, tail):
    data = b"".join(b"x" * length + end for length, end in lines) + tail
    assert content_problem(data) == reference_problem(data)


@pytest.mark.parametrize("length", [MAX_LINE, MAX_LINE + 1])
def test_a_line_just_over_the_limit_is_found_wherever_it_starts(length):
    for offset in range(MAX_LINE):  # every alignment against the blocks searched
        data = b"a" * offset + b"\r\n" + b"x" * length + b"\r\nend\r\n"
        assert content_problem(data) == reference_problem(data), offset
