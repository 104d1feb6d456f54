"""MAIL, the RCPTs and DATA in one write to an upstream that offers PIPELINING (RFC 2920),
with its replies read in order however they arrive, on asyncio's loop and on uvloop's."""

from __future__ import annotations

import aiosmtplib
import pytest

from gateway.pipeline.delivery.upstream import UpstreamPool, send
from tests.pipeline.delivery.upstream_server import (
    BODY,
    SENT,
    Pipelining,
    on_both_loops,
    recorded,
)


def test_the_group_goes_in_one_write_and_each_recipient_gets_its_reply(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def scenario(upstream: Pipelining, pool: UpstreamPool) -> None:
        recipients = ["a@x.test", "b@x.test", "c@x.test"]
        writes: list[bytes] = []
        for _ in range(2):  # the second transaction reuses the connection
            async with pool.connection() as client:
                writes = writes or recorded(client, monkeypatch)
                refused, reply = await send(client, "app@example.com", recipients, BODY, [])
            assert {a: (r.code, r.message) for a, r in refused.items()} == {
                "b@x.test": (550, "5.1.1 no such user"),
                "c@x.test": (450, "4.2.1 busy\nline two"),
            }
            assert reply == "2.0.0 queued"
        assert upstream.connections == 1
        assert [r for r, _ in upstream.delivered] == [["a@x.test"], ["a@x.test"]]
        assert upstream.delivered[0][1] == SENT
        group = b"MAIL FROM:<app@example.com>\r\n"
        group += b"".join(b"RCPT TO:<%s>\r\n" % a.encode() for a in recipients) + b"DATA\r\n"
        assert writes == [group, SENT] * 2  # a small message with its end mark: one write

    refusals = {
        "b@x.test": b"550 5.1.1 no such user",
        "c@x.test": b"450-4.2.1 busy\r\n450 line two",
    }
    on_both_loops(lambda: Pipelining(group=5, refuse=refusals), scenario)


def test_all_recipients_refused_raises_with_each_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario(upstream: Pipelining, pool: UpstreamPool) -> None:
        writes: list[bytes] = []
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as caught:
            async with pool.connection() as client:
                writes = recorded(client, monkeypatch)
                await send(client, "app@example.com", ["a@x.test", "b@x.test"], BODY, [])
        assert [(e.recipient, e.code) for e in caught.value.recipients] == [
            ("a@x.test", 550),
            ("b@x.test", 452),
        ]
        assert len(writes) == 1  # DATA refused (554): nothing follows the group
        assert writes[0].endswith(b"DATA\r\n")
        assert upstream.delivered == upstream.ended_empty == []
        assert not client.is_connected

    refusals = {"a@x.test": b"550 5.1.1 no", "b@x.test": b"452 4.5.3 too many"}
    on_both_loops(lambda: Pipelining(group=4, refuse=refusals), scenario)


@pytest.mark.parametrize("refused", ["sender", "recipients"])
def test_data_accepted_after_a_refusal_is_ended_with_a_lone_dot(
    refused: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RFC 2920 §3.1: the client cannot assume DATA is refused when MAIL or every RCPT was;
    when it gets 354 it sends a single dot, and reads its reply."""
    expected = (
        aiosmtplib.SMTPSenderRefused if refused == "sender" else aiosmtplib.SMTPRecipientsRefused
    )

    async def scenario(upstream: Pipelining, pool: UpstreamPool) -> None:
        async with pool.connection() as client:
            writes = recorded(client, monkeypatch)
            with pytest.raises(expected):
                await send(client, "app@example.com", ["a@x.test"], BODY, [])
            assert writes[1:] == [b".\r\n"]
            assert upstream.ended_empty == [b".\r\n"]
            upstream.mail_reply, upstream.refuse = b"250 ok", {}
            # in step: the same connection carries the next message
            await send(client, "app@example.com", ["a@x.test"], BODY, [])
        assert upstream.connections == 1
        assert upstream.delivered == [(["a@x.test"], SENT)]

    on_both_loops(
        lambda: Pipelining(
            group=3,
            mail_reply=b"553 5.7.1 not you" if refused == "sender" else b"250 ok",
            refuse={"a@x.test": b"550 5.1.1 no"},
            accept_empty_data=True,
        ),
        scenario,
    )


def test_a_refused_sender_raises_once_the_group_is_answered() -> None:
    """The RCPTs and DATA after a refused MAIL get replies too (503, 554): they are read
    before SMTPSenderRefused, so a reply left over cannot pass for the next command's."""
    recipients = ["a@x.test", "b@x.test"]

    async def scenario(upstream: Pipelining, pool: UpstreamPool) -> None:
        async with pool.connection() as client:
            with pytest.raises(aiosmtplib.SMTPSenderRefused) as caught:
                await send(client, "app@example.com", recipients, BODY, [])
            assert (caught.value.code, caught.value.sender) == (553, "app@example.com")
            upstream.mail_reply = b"250 ok"
            refused, _ = await send(client, "app@example.com", recipients, BODY, [])
        assert refused == {}
        assert upstream.connections == 1
        assert upstream.delivered == [(recipients, SENT)]

    on_both_loops(lambda: Pipelining(group=4, mail_reply=b"553 5.7.1 not you"), scenario)


def test_a_refused_sender_raises_and_the_connection_is_not_reused() -> None:
    async def scenario(upstream: Pipelining, pool: UpstreamPool) -> None:
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as caught:
            async with pool.connection() as client:
                await send(client, "app@example.com", ["a@x.test"], BODY, [])
        assert (caught.value.code, caught.value.sender) == (553, "app@example.com")
        upstream.mail_reply = b"250 ok"
        async with pool.connection() as client:
            await send(client, "app@example.com", ["a@x.test"], BODY, [])
        assert upstream.connections == 2
        assert [r for r, _ in upstream.delivered] == [["a@x.test"]]

    on_both_loops(lambda: Pipelining(group=3, mail_reply=b"553 5.7.1 not you"), scenario)


def test_a_hang_up_between_replies_is_a_disconnection() -> None:
    async def scenario(upstream: Pipelining, pool: UpstreamPool) -> None:
        with pytest.raises(aiosmtplib.SMTPServerDisconnected):
            async with pool.connection() as client:
                await send(client, "app@example.com", ["a@x.test", "b@x.test"], BODY, [])
        assert not client.is_connected

    on_both_loops(lambda: Pipelining(group=4, hang_up_after=1), scenario)


def test_a_421_in_the_group_closes_the_connection() -> None:
    """RFC 5321 §3.8: a 421 means the server is closing; the connection is closed, and a
    354 that came with it is not ended with a dot on a closed connection."""

    async def scenario(upstream: Pipelining, pool: UpstreamPool) -> None:
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as caught:
            async with pool.connection() as client:
                await send(client, "app@example.com", ["a@x.test"], BODY, [])
        assert [e.code for e in caught.value.recipients] == [421]
        assert not client.is_connected
        assert upstream.ended_empty == []

    refusals = {"a@x.test": b"421 4.3.2 shutting down"}
    on_both_loops(lambda: Pipelining(group=3, refuse=refusals, accept_empty_data=True), scenario)
