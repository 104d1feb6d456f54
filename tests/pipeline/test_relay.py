"""Relay core: real clients -> gateway -> real capturing upstream, over loopback."""

from __future__ import annotations

import asyncio
import email
import email.policy
import smtplib

import pytest

from gateway.store.records import DecisionQuery
from tests.support.messages import RECEIPT, send
from tests.support.servers import Upstream, free_port
from tests.support.waiting import settled, wait_until


async def test_bytes_arrive_intact_apart_from_prepended_headers(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)
    await asyncio.to_thread(send, gw.smtp_port, ["someone@example.org"])
    captured = await asyncio.to_thread(upstream.handler.wait_for, 1)
    data = captured[0].data
    assert data.endswith(RECEIPT)
    prefix = data[: -len(RECEIPT)]
    assert prefix.startswith(b"Received: from ")
    assert b"by gw.test (Gatekeeper) with ESMTP id " in prefix
    assert b"for <someone@example.org>" in prefix
    assert b"Message-ID" not in prefix  # the app's own is kept, none added


async def test_missing_message_id_is_added(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)
    bare = b"From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n"
    await asyncio.to_thread(send, gw.smtp_port, ["x@example.org"], bare)
    data = (await asyncio.to_thread(upstream.handler.wait_for, 1))[0].data
    assert data.endswith(bare)
    assert b"\r\nMessage-ID: <" in data[: -len(bare)]
    assert b"\r\nDate: " in data[: -len(bare)]


async def test_one_recipient_refused_upstream_is_bounced(upstream, gateway_factory):
    upstream.handler.refuse["gone@example.org"] = "550 5.1.1 No such user"
    gw = await gateway_factory(upstream.url)
    rcpts = ["a@example.org", "gone@example.org", "b@example.org"]
    assert await asyncio.to_thread(send, gw.smtp_port, rcpts) == {}
    captured = await asyncio.to_thread(upstream.handler.wait_for, 3)
    relayed = [m for m in captured if m.sender == "app@example.com"]
    assert sorted(r for m in relayed for r in m.recipients) == ["a@example.org", "b@example.org"]
    (report,) = [m for m in captured if m.sender in ("", "<>")]  # RFC 3464 DSN, null sender
    assert report.recipients == ["app@example.com"]
    parsed = email.message_from_bytes(report.data, policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/report"
    assert parsed["Auto-Submitted"] == "auto-replied"
    status = next(p for p in parsed.walk() if p.get_content_type() == "message/delivery-status")
    fields = status.as_bytes()
    assert b"Final-Recipient: rfc822; gone@example.org" in fields
    assert b"Action: failed" in fields and b"Status: 5.1.1" in fields
    assert b"Message-ID: <receipt-42@example.com>" in report.data

    async def outcomes() -> dict[str, str]:
        await gw.writer.flush()
        rows = await gw.store.decisions(DecisionQuery(phase="delivery"))
        return {d.recipient: d.reason for _, d in rows}

    await wait_until(lambda: _has(outcomes, 4))
    assert await outcomes() == {
        "a@example.org": "delivered",
        "b@example.org": "delivered",
        "gone@example.org": "bounced",
        "app@example.com": "delivered",  # the report to the sender
    }
    assert await gw.store.spool_list() == []
    # "5.1.1 no such user" says the mailbox is bad: never again, for any purpose
    (suppressed,) = await gw.store.suppressions("gone@example.org")
    assert (suppressed.scope, suppressed.reason, suppressed.source) == (
        "all",
        "hard-bounce",
        "delivery",
    )
    assert await gw.store.suppressions("a@example.org") == []


async def _has(outcomes, n: int) -> bool:
    return len(await outcomes()) >= n


async def _has_reason(reasons, reason: str) -> bool:
    return reason in await reasons()


async def test_swaks_sends_through_gateway(upstream, gateway_factory, tmp_path):
    gw = await gateway_factory(upstream.url)
    proc = await asyncio.create_subprocess_exec(
        "swaks",
        "--server",
        "127.0.0.1",
        "--port",
        str(gw.smtp_port),
        "--from",
        "app@example.com",
        "--to",
        "swaks@example.org",
        "--header",
        "Subject: via swaks",
        "--body",
        "hello from swaks",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, out.decode()
    assert b"250 2.0.0 Ok: queued as" in out
    data = (await asyncio.to_thread(upstream.handler.wait_for, 1))[0].data
    assert b"Subject: via swaks" in data and b"hello from swaks" in data


async def test_upstream_down_then_up_is_delivered_with_deferrals_logged(gateway_factory):
    late = Upstream(free_port())
    gw = await gateway_factory(late.url)
    await asyncio.to_thread(send, gw.smtp_port, ["later@example.org"])
    query = DecisionQuery(recipient="later@example.org", phase="delivery")

    async def recorded() -> list[str]:
        await gw.writer.flush()
        return [d.reason for _, d in await gw.store.decisions(query)]

    # the upstream comes up only once a deferral is on record, however long that takes
    await wait_until(lambda: _has_reason(recorded, "deferred"))
    late.start()
    try:
        await asyncio.to_thread(late.handler.wait_for, 1, 30)
    finally:
        late.stop()
    await wait_until(lambda: _has_reason(recorded, "delivered"))
    rows = [d for _, d in await gw.store.decisions(query)]
    reasons = [d.reason for d in rows]
    assert "deferred" in reasons and reasons[-1] == "delivered"
    assert all(d.action == "defer" for d in rows if d.reason == "deferred")


async def test_upstream_451_twice_then_250_delivers_once(upstream, gateway_factory):
    upstream.handler.data_replies = ["451 4.3.0 try later", "451 4.3.0 try later"]
    gw = await gateway_factory(upstream.url)
    await asyncio.to_thread(send, gw.smtp_port, ["retry@example.org"])
    await asyncio.to_thread(upstream.handler.wait_for, 1, 30)
    # at rest with nothing spooled: no further copy can be on its way
    assert await settled(gw) == []
    assert len(upstream.handler.messages) == 1
    rows = await gw.store.decisions(DecisionQuery(recipient="retry@example.org", phase="delivery"))
    assert [d.reason for _, d in rows] == ["deferred", "deferred", "delivered"]


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ("no-at-sign", 553),
        ("two@@example.org", 553),
        ("a@-bad-.example", 553),
        ("<>", 553),
    ],
)
async def test_bad_recipient_addresses_get_553(upstream, gateway_factory, address, code):
    gw = await gateway_factory(upstream.url)

    def rcpt() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", gw.smtp_port) as client:
            client.ehlo()
            client.mail("app@example.com")
            return client.rcpt(address)

    reply_code, text = await asyncio.to_thread(rcpt)
    assert reply_code == code
    assert text.startswith(b"5.1.3 ")


async def test_oversized_message_is_refused_and_not_spooled(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, smtp={"max_message_size": 10_000})
    big = RECEIPT + b"x" * 900 + b"\r\n"
    big = big * 20

    def attempt() -> None:
        with smtplib.SMTP("127.0.0.1", gw.smtp_port) as client:
            client.ehlo()
            assert client.esmtp_features["size"] == "10000"
            client.mail("app@example.com")  # no SIZE= so the check happens after DATA
            client.rcpt("big@example.org")
            code, text = client.data(big)
            assert (code, text[:5]) == (552, b"5.3.4")

    await asyncio.to_thread(attempt)
    assert await gw.store.spool_list() == []


async def test_bare_lf_is_refused(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)
    reply = await raw_session(
        gw.smtp_port,
        [
            b"EHLO t",
            b"MAIL FROM:<app@example.com>",
            b"RCPT TO:<lf@example.org>",
            b"DATA",
        ],
        b"Subject: x\r\n\r\nline one\nline two\r\n.\r\n",
    )
    assert reply.startswith(b"550 5.5.2")
    assert await gw.store.spool_list() == []


async def test_smuggling_attempt_is_one_refused_message(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)
    smuggled = (
        b"Subject: a\r\n\r\nbody\n.\r\nMAIL FROM:<evil@example.com>\r\n"
        b"RCPT TO:<victim@example.org>\r\nDATA\r\nSubject: b\r\n\r\nx\r\n.\r\n"
    )
    reply = await raw_session(
        gw.smtp_port,
        [
            b"EHLO t",
            b"MAIL FROM:<app@example.com>",
            b"RCPT TO:<s@example.org>",
            b"DATA",
        ],
        smuggled,
    )
    assert reply.startswith(b"550 5.5.2")
    assert await settled(gw) == []  # the smuggled commands queued nothing
    assert upstream.handler.messages == []


async def raw_session(port: int, commands: list[bytes], data: bytes) -> bytes:
    """Speak SMTP by hand (smtplib would fix up the line endings we want to test)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await reader.readline()
        for command in commands:
            writer.write(command + b"\r\n")
            while True:
                line = await reader.readline()
                if line[3:4] != b"-":
                    break
        writer.write(data)
        await writer.drain()
        reply = await asyncio.wait_for(reader.readline(), 10)
        # QUIT, and read to the end: by then the gateway has answered everything sent before
        writer.write(b"QUIT\r\n")
        await asyncio.wait_for(reader.read(), 10)
        return reply
    finally:
        writer.close()


async def test_recipients_past_the_limit_are_capped(upstream, gateway_factory):
    """2,000 RCPTs: the first 1,000 taken, the rest 452 (smtp.max_commands stays far away)."""
    gw = await gateway_factory(upstream.url)

    def envelope() -> tuple[list[int], tuple[int, bytes]]:
        codes = []
        with smtplib.SMTP("127.0.0.1", gw.smtp_port, timeout=60) as client:
            client.ehlo()
            client.mail("app@example.com")
            for n in range(2_000):
                codes.append(client.rcpt(f"r{n}@example.org")[0])
            return codes, client.data(RECEIPT)

    codes, (data_code, _) = await asyncio.to_thread(envelope)
    assert codes[:1000] == [250] * 1000
    assert set(codes[1000:]) == {452}
    assert data_code == 250
    captured = await asyncio.to_thread(upstream.handler.wait_for, 1000, 60)
    assert sum(len(m.recipients) for m in captured) == 1000


async def test_client_vanishing_mid_data_spools_nothing(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)
    reader, writer = await asyncio.open_connection("127.0.0.1", gw.smtp_port)
    await reader.readline()
    for command in (b"EHLO t", b"MAIL FROM:<app@example.com>", b"RCPT TO:<v@example.org>", b"DATA"):
        writer.write(command + b"\r\n")
        while (await reader.readline())[3:4] == b"-":
            pass
    writer.write(b"Subject: half\r\n\r\nhalf a messa")
    await writer.drain()
    writer.transport.abort()
    assert await settled(gw) == []  # waits for the gateway to see the connection go
    assert upstream.handler.messages == []
    # and the gateway still serves the next client
    await asyncio.to_thread(send, gw.smtp_port, ["after@example.org"])
    await asyncio.to_thread(upstream.handler.wait_for, 1)


async def test_every_reply_has_an_enhanced_status_code(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)

    def session() -> list[tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", gw.smtp_port) as client:
            client.ehlo()
            replies = [
                client.docmd("NOOP"),
                client.mail("app@example.com"),
                client.rcpt("a@example.org"),
                client.docmd("RSET"),
                client.docmd("DATA"),
                client.docmd("BOGUS"),
            ]
            return replies

    for code, text in await asyncio.to_thread(session):
        assert text[:1].decode() == str(code)[0] and text[1:2] == b".", (code, text)


async def test_unknown_client_network_is_not_relayed(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, smtp={"allow_networks": ["10.9.9.0/24"]})

    def mail() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", gw.smtp_port) as client:
            client.ehlo()
            return client.mail("app@example.com")

    assert await asyncio.to_thread(mail) == (530, b"5.7.0 Authentication required")
