"""SMTP smuggling (CVE-2023-51764/51765/51766): end-of-data marks other than <CRLF>.<CRLF>.

Each variant ends the first message the way some MTA might, then pipelines a whole second
transaction (MAIL, RCPT, DATA) and a real end of data, all in one write. The gateway must see
one DATA only: refused `550 5.5.2` for a bare CR or LF, and no second, smuggled message
reaching the upstream. The NUL variants hide the end mark from MTAs that drop NUL bytes;
issue 11 wants them refused `550 5.6.0`.
"""

from __future__ import annotations

import pytest

from tests.hostile.wire import NORMAL, Wire, dot_stuffed, send_message, wait_for_recipient

# The eight bare-CR/LF end-of-data marks of the SEC Consult and Postfix write-ups.
BARE_VARIANTS = [
    b"\n.\n",
    b"\n.\r\n",
    b"\r.\r",
    b"\r\n.\r",
    b"\r\n.\n",
    b"\n.\r",
    b"\r.\n",
    b"\r.\r\n",
]
# End marks that only appear once a downstream drops NUL bytes.
NUL_VARIANTS = [b"\r\n\x00.\r\n", b"\r\n.\x00\r\n"]

FIRST = b"From: app@example.com\r\nTo: s@example.org\r\nSubject: first\r\n\r\nthe real message"
SMUGGLED = (
    b"MAIL FROM:<evil@example.com>\r\n"
    b"RCPT TO:<victim@example.org>\r\n"
    b"DATA\r\n"
    b"From: ceo@example.com\r\n"
    b"To: victim@example.org\r\n"
    b"Subject: smuggled\r\n"
    b"\r\n"
    b"pay this invoice\r\n"
    b".\r\n"
)


async def smuggle(port: int, variant: bytes) -> list[bytes]:
    """Every reply from the DATA payload on, through QUIT."""
    wire = await Wire.open(port)
    try:
        await wire.envelope("app@example.com", "s@example.org")
        assert (await wire.command(b"DATA")).startswith(b"354")
        await wire.send(FIRST + variant + SMUGGLED + b"QUIT\r\n")
        return await wire.replies_until_closed()
    finally:
        await wire.close()


def _ids(variants: list[bytes]) -> list[str]:
    return [repr(v)[2:-1] for v in variants]


ALL_VARIANTS = BARE_VARIANTS + NUL_VARIANTS


@pytest.mark.parametrize("variant", ALL_VARIANTS, ids=_ids(ALL_VARIANTS))
async def test_no_second_message_is_smuggled(upstream, gateway_factory, variant):
    gw = await gateway_factory(upstream.url)
    replies = await smuggle(gw.smtp_port, variant)
    # One reply to the one DATA, then QUIT's: the smuggled MAIL/RCPT/DATA were never commands.
    assert len(replies) == 2, replies
    assert replies[1].startswith(b"221 ")
    assert not any(r.startswith(b"354") for r in replies)

    # A later, normal message arrives; by then anything smuggled would have too.
    assert (await send_message(gw.smtp_port, NORMAL, "app@example.com", "marker@example.org"))[
        :3
    ] == b"250"
    captured = await wait_for_recipient(upstream, "marker@example.org")
    assert [m.sender for m in captured if m.sender == "evil@example.com"] == []
    assert not any("victim@example.org" in m.recipients for m in captured)


@pytest.mark.parametrize("variant", BARE_VARIANTS, ids=_ids(BARE_VARIANTS))
async def test_bare_line_end_is_refused_550_5_5_2(upstream, gateway_factory, variant):
    gw = await gateway_factory(upstream.url)
    replies = await smuggle(gw.smtp_port, variant)
    assert replies[0].startswith(b"550 5.5.2 "), replies
    assert await gw.store.spool_list() == []


@pytest.mark.parametrize("variant", NUL_VARIANTS, ids=_ids(NUL_VARIANTS))
async def test_nul_end_mark_is_refused_550_5_6_0(upstream, gateway_factory, variant):
    gw = await gateway_factory(upstream.url)
    replies = await smuggle(gw.smtp_port, variant)
    assert replies[0].startswith(b"550 5.6.0 "), replies
    assert await gw.store.spool_list() == []


async def test_correct_end_mark_still_ends_data(upstream, gateway_factory):
    """The control: with a real <CRLF>.<CRLF> the second transaction is a real one."""
    gw = await gateway_factory(upstream.url)
    wire = await Wire.open(gw.smtp_port)
    try:
        await wire.envelope("app@example.com", "s@example.org")
        assert (await wire.command(b"DATA")).startswith(b"354")
        await wire.send(dot_stuffed(FIRST) + SMUGGLED.replace(b"evil@", b"app@") + b"QUIT\r\n")
        replies = await wire.replies_until_closed()
    finally:
        await wire.close()
    assert [r[:3] for r in replies] == [b"250", b"250", b"250", b"354", b"250", b"221"]
