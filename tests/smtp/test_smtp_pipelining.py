"""RFC 2920 PIPELINING and RFC 2034 ENHANCEDSTATUSCODES, against a real gateway.

The listener may advertise PIPELINING only because these hold: commands sent in one write
are answered one by one in order, a refusal in the middle does not disturb the rest, and the
message after DATA's 354 is read as data, never as commands, while commands pipelined after
the end of data are answered as commands.
"""

from __future__ import annotations

import asyncio

from tests.support.smtp import converse

BODY = (
    b"From: app@example.com\r\n"
    b"Subject: pipelined\r\n"
    b"X-Gatekeeper-Purpose: transactional\r\n"
    b"\r\n"
    b"These lines look like commands and are not:\r\n"
    b"RCPT TO:<evil@example.org>\r\n"
    b"QUIT\r\n"
    b"..a stuffed dot\r\n"
)


def codes(replies: list[bytes]) -> list[bytes]:
    return [r[:9] for r in replies]


async def test_ehlo_advertises_pipelining_and_enhanced_codes_not_chunking(
    upstream, gateway_factory
):
    gw = await gateway_factory(upstream.url)
    _greeting, ehlo, bdat, _ = await asyncio.to_thread(
        converse,
        gw.smtp_port,
        [
            (b"EHLO client.test\r\n", 1),
            (b"BDAT 4 LAST\r\n", 1),
            (b"QUIT\r\n", 1),
        ],
    )
    keywords = [line[4:].split(b" ")[0] for line in ehlo.split(b"\n")[1:]]
    assert b"PIPELINING" in keywords and b"ENHANCEDSTATUSCODES" in keywords
    assert b"CHUNKING" not in keywords
    assert bdat.startswith(b"500 5.5.2 ")  # no BDAT (RFC 3030) behind the missing CHUNKING


async def test_pipelined_transactions_are_answered_in_order(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)
    first = (
        b"MAIL FROM:<app@example.com>\r\n"
        b"RCPT TO:<a@example.org>\r\n"
        b"RCPT TO:<bad@@example.org>\r\n"
        b"RCPT TO:<b@example.org>\r\n"
        b"DATA\r\n"
    )
    # the end of data and the whole next transaction up to its DATA, in one write
    second = BODY + b".\r\nMAIL FROM:<>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n"
    third = BODY + b".\r\nQUIT\r\n"
    replies = await asyncio.to_thread(
        converse,
        gw.smtp_port,
        [
            (b"EHLO client.test\r\n", 1),
            (first, 5),
            (second, 4),
            (third, 2),
        ],
    )
    assert codes(replies[2:]) == [
        b"250 2.1.0",
        b"250 2.1.5",
        b"553 5.1.3",
        b"250 2.1.5",
        b"354 End d",
        b"250 2.0.0",
        b"250 2.1.0",
        b"250 2.1.5",
        b"354 End d",
        b"250 2.0.0",
        b"221 2.0.0",
    ]
    assert b"queued as" in replies[7] and b"queued as" in replies[11]
    captured = await asyncio.to_thread(upstream.handler.wait_for, 3)
    by_sender = {m.sender: m for m in captured}
    assert sorted(by_sender["app@example.com"].recipients) == ["a@example.org", "b@example.org"]
    assert by_sender["<>"].recipients == ["c@example.org"]
    body = BODY.split(b"\r\n\r\n", 1)[1].replace(b"..a", b".a")
    for message in captured:
        assert message.data.split(b"\r\n\r\n", 1)[1] == body


async def test_pipelined_data_after_only_refused_recipients_is_refused(upstream, gateway_factory):
    """RFC 2920 §3.1: with no recipient accepted DATA fails, and the client, which waits for
    354 before sending the message, sends none; the session goes on."""
    gw = await gateway_factory(upstream.url)
    replies = await asyncio.to_thread(
        converse,
        gw.smtp_port,
        [
            (b"EHLO client.test\r\n", 1),
            (b"MAIL FROM:<app@example.com>\r\nRCPT TO:<@bad>\r\nDATA\r\nRSET\r\nNOOP\r\n", 5),
            (b"QUIT\r\n", 1),
        ],
    )
    assert codes(replies[2:]) == [
        b"250 2.1.0",
        b"553 5.1.3",
        b"503 5.5.1",
        b"250 2.0.0",
        b"250 2.0.0",
        b"221 2.0.0",
    ]
