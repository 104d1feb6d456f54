"""gateway.smtp.handler: one transaction per MAIL, its recipients one per mailbox.

`A@x` and `a@x` name one mailbox (gateway.addresses.canonical), so an envelope naming both
gets one copy, delivered under the spelling given first; the second is answered as a
duplicate, as an exact repeat is.
"""

from __future__ import annotations

import asyncio

from gateway.pipeline import replies
from gateway.store.records import DecisionQuery
from tests.support.smtp import dialogue

BODY = (
    b"From: app@example.com\r\n"
    b"Subject: receipt 1234\r\n"
    b"X-Gatekeeper-Purpose: transactional\r\n"
    b"\r\n"
    b"Thanks.\r\n"
    b"."  # with dialogue's CRLF: the end of data
)


def envelope(sender: bytes, recipients: list[bytes]) -> list[bytes]:
    rcpts = [b"RCPT TO:<" + r + b">" for r in recipients]
    return [b"MAIL FROM:<" + sender + b">", *rcpts, b"DATA", BODY]


async def test_one_mailbox_spelled_three_ways_gets_one_copy(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)
    spellings = [b"Ann.Person@example.org", b"ann.person@EXAMPLE.org", b"ANN.PERSON@example.org"]
    answers = await asyncio.to_thread(
        dialogue,
        gw.smtp_port,
        [b"EHLO client.test", *envelope(b"app@example.com", [*spellings, b"bob@example.org"])],
    )
    rcpts = [a.decode() for a in answers[3:7]]
    assert rcpts == [
        replies.RECIPIENT_OK,
        replies.RECIPIENT_DUPLICATE,
        replies.RECIPIENT_DUPLICATE,
        replies.RECIPIENT_OK,
    ]
    assert answers[-1].startswith(b"250 2.0.0 Ok: queued as ")
    (captured,) = await asyncio.to_thread(upstream.handler.wait_for, 2)
    assert captured.recipients == ["Ann.Person@example.org", "bob@example.org"]
    await gw.writer.flush()
    # one decision per mailbox (the stream's, at RCPT, standing at DATA)
    rows = [d for _, d in await gw.store.decisions(DecisionQuery()) if d.phase != "delivery"]
    assert sorted((d.phase, d.recipient) for d in rows) == [
        ("rcpt", "ann.person@example.org"),
        ("rcpt", "bob@example.org"),
    ]


async def test_a_refused_spelling_does_not_make_the_next_a_duplicate(upstream, gateway_factory):
    """Only recipients taken count: a refused `Who@x` leaves `who@x` to be decided too."""
    gw = await gateway_factory(
        upstream.url, streams=[{"sender": "news@shop.example", "purpose": "marketing"}]
    )
    answers = await asyncio.to_thread(
        dialogue,
        gw.smtp_port,
        [
            b"EHLO client.test",
            b"MAIL FROM:<news@shop.example>",
            b"RCPT TO:<Who@example.org>",
            b"RCPT TO:<who@example.org>",
            b"QUIT",
        ],
    )
    assert [a[:20] for a in answers[3:5]] == [b"550 5.7.1 no-consent"] * 2
    await gw.writer.flush()
    rows = [d for _, d in await gw.store.decisions(DecisionQuery(phase="rcpt"))]
    assert [(d.recipient, d.reason) for d in rows] == [("who@example.org", "no-consent")] * 2


async def test_each_transaction_of_a_session_starts_afresh(upstream, gateway_factory):
    """The recipients (and verdicts) of one message are not carried into the next MAIL."""
    gw = await gateway_factory(upstream.url)
    answers = await asyncio.to_thread(
        dialogue,
        gw.smtp_port,
        [
            b"EHLO client.test",
            *envelope(b"app@example.com", [b"ann@example.org"]),
            b"MAIL FROM:<app@example.com>",
            b"RCPT TO:<Ann@example.org>",
            b"RSET",
            *envelope(b"app@example.com", [b"ANN@example.org"]),
        ],
    )
    assert answers[3].decode() == replies.RECIPIENT_OK
    assert answers[7].decode() == replies.RECIPIENT_OK  # not a duplicate of the first message's
    assert answers[-3].decode() == replies.RECIPIENT_OK  # nor of the transaction RSET ended
    captured = await asyncio.to_thread(upstream.handler.wait_for, 2)
    assert sorted(r for m in captured for r in m.recipients) == [
        "ANN@example.org",
        "ann@example.org",
    ]


async def test_auth_within_a_transaction_is_refused(upstream, gateway_factory):
    """RFC 4954 §4: the login a transaction began under is the one its decisions name."""
    gw = await gateway_factory(upstream.url)
    answers = await asyncio.to_thread(
        dialogue,
        gw.smtp_port,
        [
            b"EHLO client.test",
            b"MAIL FROM:<app@example.com>",
            b"AUTH PLAIN AGFwcABzZWNyZXQ=",
            b"RSET",
            b"AUTH PLAIN AGFwcABzZWNyZXQ=",
        ],
    )
    assert answers[3].decode() == replies.AUTH_IN_TRANSACTION
    # out of a transaction the credentials are checked (and there are no users here)
    assert answers[5].startswith(b"535 5.7.8 ")
