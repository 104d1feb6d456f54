"""Session limits under a hostile network (issue 11), each with small numbers in the config:
sessions overall and per client address, the first-command, idle and session timeouts, the
command limits, the in-flight DATA budget, the small-mailbox limit and a login's rate.

Clients speak raw bytes (tests/hostile/wire.py) from chosen loopback source addresses, so
"another client" is really another address (127.0.0.2 ...)."""

from __future__ import annotations

import asyncio
import base64
import contextlib

from gateway.passwords import hash_password
from tests.hostile.wire import NORMAL, Wire, dot_stuffed, wait_for_recipient

TIMEOUT = 30.0
PASSWORD = "correct horse battery staple"


async def connect(port: int, source: str = "127.0.0.1") -> Wire:
    """A connection from `source` (any 127/8 address is this machine), greeting read."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    wire = Wire(reader, writer)
    wire.greeting = await wire.reply()
    return wire


async def closed(wire: Wire) -> bool:
    """True once the server has closed the connection (EOF), bounded by TIMEOUT."""
    return await asyncio.wait_for(wire.reader.read(), TIMEOUT) == b""


async def close_all(wires: list[Wire]) -> None:
    for wire in wires:
        with contextlib.suppress(ConnectionError):
            await wire.close()


async def normal_message(wire: Wire, upstream, recipient: str = "after@example.org") -> None:
    await wire.envelope("app@example.com", recipient)
    assert (await wire.command(b"DATA")).startswith(b"354")
    await wire.send(dot_stuffed(NORMAL))
    assert (await wire.reply()).startswith(b"250 2.0.0"), "the message was not accepted"
    await wait_for_recipient(upstream, recipient)


async def test_flood_from_one_address_is_refused_while_others_are_served(upstream, gateway_factory):
    gw = await gateway_factory(
        upstream.url, smtp={"max_sessions": 20, "max_sessions_per_client": 5}
    )
    flood: list[Wire] = []
    try:
        for _ in range(25):
            flood.append(await connect(gw.smtp_port, "127.0.0.2"))
        greetings = [w.greeting[:3] for w in flood]
        assert greetings.count(b"220") == 5
        refused = [w for w in flood if w.greeting.startswith(b"421")]
        assert len(refused) == 20
        assert all(w.greeting.startswith(b"421 4.7.0 ") for w in refused)
        assert all([await closed(w) for w in refused])
        wire = await connect(gw.smtp_port)  # another address: served
        assert wire.greeting.startswith(b"220")
        await normal_message(wire, upstream)
        await wire.close()
    finally:
        await close_all(flood)


async def test_sessions_overall_are_bounded_and_freed_on_close(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, smtp={"max_sessions": 6, "max_sessions_per_client": 3})
    held = [await connect(gw.smtp_port, f"127.0.0.{n}") for n in (2, 2, 2, 3, 3, 3)]
    try:
        assert all(w.greeting.startswith(b"220") for w in held)
        extra = await connect(gw.smtp_port, "127.0.0.4")
        assert extra.greeting.startswith(b"421 4.7.0 Too many connections,")
        assert await closed(extra)
        assert (await held[0].command(b"QUIT")).startswith(b"221")
        assert await closed(held[0])
        # the slot is free once the server has seen the close: a new client gets it
        for _ in range(int(TIMEOUT / 0.05)):
            again = await connect(gw.smtp_port, "127.0.0.4")
            if again.greeting.startswith(b"220"):
                break
            await again.close()
            await asyncio.sleep(0.05)
        assert again.greeting.startswith(b"220")
        await again.close()
    finally:
        await close_all(held)


async def test_500_idle_connections_do_not_stop_a_normal_session(upstream, gateway_factory):
    """The issue's flood with the default limits: 50 greeted from the flooding address."""
    gw = await gateway_factory(upstream.url)
    flood: list[Wire] = []
    try:
        for _ in range(500):
            flood.append(await connect(gw.smtp_port, "127.0.0.2"))
        assert sum(w.greeting.startswith(b"220") for w in flood) == 50
        assert sum(w.greeting.startswith(b"421 4.7.0 ") for w in flood) == 450
        wire = await connect(gw.smtp_port)
        await normal_message(wire, upstream)
        await wire.close()
    finally:
        await close_all(flood)


async def test_a_slow_but_steady_upload_completes(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, smtp={"timeout": 0.5})
    wire = await connect(gw.smtp_port)
    try:
        await wire.envelope("app@example.com", "slow@example.org")
        assert (await wire.command(b"DATA")).startswith(b"354")
        payload = dot_stuffed(NORMAL + b"x" * 60 + b"\r\n")
        # ten pieces 0.2 s apart: the whole takes four idle timeouts, no pause reaches one
        step = len(payload) // 10 + 1
        for start in range(0, len(payload), step):
            await wire.send(payload[start : start + step])
            await asyncio.sleep(0.2)
        assert (await wire.reply()).startswith(b"250 2.0.0")
    finally:
        await wire.close()
    await wait_for_recipient(upstream, "slow@example.org")


async def test_a_silent_upload_is_answered_421_and_closed(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, smtp={"timeout": 0.3})
    wire = await connect(gw.smtp_port)
    try:
        await wire.envelope("app@example.com", "silent@example.org")
        assert (await wire.command(b"DATA")).startswith(b"354")
        await wire.send(NORMAL[:40])
        assert (await wire.reply()).startswith(b"421 4.4.2 Idle timeout")
        assert await closed(wire)
    finally:
        await wire.close()


async def test_no_first_command_is_answered_421(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, smtp={"greeting_timeout": 0.3})
    wire = await connect(gw.smtp_port)
    try:
        assert wire.greeting.startswith(b"220")
        assert (await wire.reply()).startswith(b"421 4.4.2 No command received")
        assert await closed(wire)
    finally:
        await wire.close()


async def test_noop_loop_is_cut(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, smtp={"max_noops": 5})
    wire = await connect(gw.smtp_port)
    try:
        assert (await wire.command(b"EHLO client.test")).startswith(b"250")
        for command in (b"NOOP", b"RSET", b"NOOP", b"NOOP", b"NOOP"):
            assert (await wire.command(command)).startswith(b"250")
        assert (await wire.command(b"NOOP")).startswith(b"421 4.7.0 Too many NOOP")
        assert await closed(wire)
    finally:
        await wire.close()


async def test_commands_per_session_are_bounded(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, smtp={"max_commands": 4})
    wire = await connect(gw.smtp_port)
    try:
        await wire.envelope("app@example.com", "a@example.org", "b@example.org")
        assert (await wire.command(b"RCPT TO:<c@example.org>")).startswith(b"421 4.7.0 ")
        assert await closed(wire)
    finally:
        await wire.close()


async def test_a_busy_session_still_ends_at_the_session_limit(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, smtp={"max_session_time": 0.5})
    wire = await connect(gw.smtp_port)
    try:
        for _ in range(int(TIMEOUT / 0.1)):
            reply = await wire.command(b"NOOP")
            if not reply.startswith(b"250"):
                break
            await asyncio.sleep(0.1)
        assert reply.startswith(b"421 4.4.2 Session time limit")
        assert await closed(wire)
    finally:
        await wire.close()


async def test_inflight_budget_answers_452_and_is_given_back(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, smtp={"max_inflight_bytes": 64 * 1024})
    wire = await connect(gw.smtp_port)
    try:
        await wire.envelope("app@example.com", "big@example.org")
        assert (await wire.command(b"DATA")).startswith(b"354")
        big = NORMAL + (b"y" * 70 + b"\r\n") * 2000  # 144 KB, under max_message_size
        await wire.send(dot_stuffed(big))
        assert (await wire.reply()).startswith(b"452 4.3.1 ")
        await normal_message(wire, upstream)  # the budget came back
    finally:
        await wire.close()


async def test_the_unsubscribe_mailbox_takes_small_messages_only(upstream, gateway_factory):
    gw = await gateway_factory(
        upstream.url,
        smtp={"mailbox_max_size": 1024},
        unsubscribe={"secret": ["s3cret"], "mailto_domain": "gw.example"},
    )
    wire = await connect(gw.smtp_port, "127.0.0.9")  # an outsider may write to it
    try:
        assert (await wire.command(b"EHLO client.test")).startswith(b"250")
        for lines, expected in ((1, b"250 2.0.0 "), (20, b"552 5.3.4 Message too big")):
            assert (await wire.command(b"MAIL FROM:<someone@else.example>")).startswith(b"250")
            assert (await wire.command(b"RCPT TO:<unsubscribe@gw.example>")).startswith(b"250")
            assert (await wire.command(b"DATA")).startswith(b"354")
            await wire.send(dot_stuffed(NORMAL + (b"z" * 70 + b"\r\n") * lines))
            assert (await wire.reply()).startswith(expected)
        # the same 1.6 KB to a relayed recipient is an ordinary message
        await normal_message(wire, upstream)
    finally:
        await wire.close()


async def test_inflight_budget_comes_back_when_a_client_drops_mid_data(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, smtp={"max_inflight_bytes": 64 * 1024})
    half = (b"y" * 70 + b"\r\n") * 500  # 36 KB: two of them do not fit the budget
    dropped = await connect(gw.smtp_port)
    await dropped.envelope("app@example.com", "dropped@example.org")
    assert (await dropped.command(b"DATA")).startswith(b"354")
    await dropped.send(NORMAL + half)
    await dropped.close()
    for _ in range(int(TIMEOUT / 0.05)):  # until the server has seen the close
        wire = await connect(gw.smtp_port)
        await wire.envelope("app@example.com", "kept@example.org")
        assert (await wire.command(b"DATA")).startswith(b"354")
        await wire.send(dot_stuffed(NORMAL + half))
        reply = await wire.reply()
        await wire.close()
        if reply.startswith(b"250"):
            break
        assert reply.startswith(b"452 4.3.1 "), reply
        await asyncio.sleep(0.05)
    assert reply.startswith(b"250 2.0.0"), reply


async def test_a_login_over_its_rate_is_answered_451(upstream, gateway_factory):
    gw = await gateway_factory(
        upstream.url,
        smtp={
            "users": [
                {
                    "name": "app",
                    "password_hash": hash_password(PASSWORD, "scrypt"),
                    "rate_per_minute": 2,
                }
            ]
        },
    )
    wire = await connect(gw.smtp_port)
    try:
        assert (await wire.command(b"EHLO client.test")).startswith(b"250")
        plain = base64.b64encode(f"\0app\0{PASSWORD}".encode())
        assert (await wire.command(b"AUTH PLAIN " + plain)).startswith(b"235")
        for _ in range(2):
            assert (await wire.command(b"MAIL FROM:<app@example.com>")).startswith(b"250")
            assert (await wire.command(b"RSET")).startswith(b"250")
        assert (await wire.command(b"MAIL FROM:<app@example.com>")).startswith(b"451 4.7.1 ")
    finally:
        await wire.close()
