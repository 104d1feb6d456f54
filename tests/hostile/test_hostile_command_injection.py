"""CR, LF and NUL inside MAIL FROM, RCPT TO and the EHLO argument.

aiosmtpd splits command lines at LF, so a bare LF turns one command into two; a bare CR or a
NUL stays inside the argument. Either way no hostile line may open a transaction or add a
recipient, the session stays usable, and nothing of it reaches a header field the gateway
writes.
"""

from __future__ import annotations

import pytest

from tests.hostile.wire import NORMAL, Wire, dot_stuffed, wait_for_recipient

SENTINEL = b"XSENTINEL"


async def hostile_replies(wire: Wire, hostile: bytes) -> list[bytes]:
    """The replies to `hostile` (one or more lines), up to the sentinel command's."""
    await wire.send(hostile + SENTINEL + b"\r\n")
    replies = []
    for _ in range(20):
        reply = await wire.reply()
        assert reply, "the gateway dropped the connection"
        if SENTINEL in reply:
            return replies
        replies.append(reply)
    raise AssertionError(f"no reply to the sentinel after {replies!r}")


MAIL_INJECTIONS = [
    b"MAIL FROM:<app@example.com\r\nRCPT TO:<victim@example.org>>\r\n",
    b"MAIL FROM:<app@example.com\nRCPT TO:<victim@example.org>>\r\n",
    b"MAIL FROM:<app@example.com\rRCPT TO:<victim@example.org>>\r\n",
    b"MAIL FROM:<app\r@example.com>\r\n",
    b"MAIL FROM:<app\x00@example.com>\r\n",
    b"MAIL FROM:<app@example.com\x00>\r\n",
    b"MAIL FROM:<app@exa\x00mple.com>\r\n",
    b"MAIL FROM:<app@example.com\r>\r\n",
]
RCPT_INJECTIONS = [
    b"RCPT TO:<victim@example.org\r\nDATA>\r\n",
    b"RCPT TO:<victim@example.org\nDATA>\r\n",
    b"RCPT TO:<victim@example.org\rDATA>\r\n",
    b"RCPT TO:<vic\x00tim@example.org>\r\n",
    b"RCPT TO:<victim@example.org\x00>\r\n",
    b"RCPT TO:<victim@exa\rmple.org>\r\n",
    b"RCPT TO:<victim\n@example.org>\r\n",
]


@pytest.mark.parametrize("hostile", MAIL_INJECTIONS, ids=lambda b: repr(b)[2:-1])
async def test_hostile_mail_from_taints_no_envelope(upstream, gateway_factory, hostile):
    gw = await gateway_factory(upstream.url)
    wire = await Wire.open(gw.smtp_port)
    try:
        assert (await wire.command(b"EHLO client.test")).startswith(b"250")
        replies = await hostile_replies(wire, hostile)
        assert not any(r.startswith(b"354") for r in replies), replies
        # Whatever MAIL stood (if any), the transaction goes on to one clean message.
        rcpt = await wire.command(b"RCPT TO:<after@example.org>")
        if rcpt.startswith(b"503 "):
            assert (await wire.command(b"MAIL FROM:<app@example.com>")).startswith(b"250 ")
            rcpt = await wire.command(b"RCPT TO:<after@example.org>")
        assert rcpt.startswith(b"250 "), rcpt
        await _data(wire)
    finally:
        await wire.close()
    await _clean_envelopes(upstream)


@pytest.mark.parametrize("hostile", RCPT_INJECTIONS, ids=lambda b: repr(b)[2:-1])
async def test_hostile_rcpt_to_taints_no_envelope(upstream, gateway_factory, hostile):
    gw = await gateway_factory(upstream.url)
    wire = await Wire.open(gw.smtp_port)
    try:
        assert (await wire.command(b"EHLO client.test")).startswith(b"250")
        assert (await wire.command(b"MAIL FROM:<app@example.com>")).startswith(b"250")
        replies = await hostile_replies(wire, hostile)
        # A DATA hidden in the path never starts a data phase.
        assert not any(r.startswith(b"354") for r in replies), replies
        assert (await wire.command(b"RCPT TO:<after@example.org>")).startswith(b"250 ")
        await _data(wire)
    finally:
        await wire.close()
    await _clean_envelopes(upstream)


@pytest.mark.parametrize(
    ("command", "hostile"),
    [
        (b"EHLO client.test", b"MAIL FROM:<app@example.com\r>"),
        (b"MAIL FROM:<app@example.com>", b"RCPT TO:<victim@exa\rmple.org>"),
        (b"MAIL FROM:<app@example.com>", b"RCPT TO:<victim@example.org\rDATA>"),
    ],
    ids=["mail-cr-before-bracket", "rcpt-cr-in-domain", "rcpt-cr-then-word"],
)
async def test_bare_cr_inside_a_path_is_refused(upstream, gateway_factory, command, hostile):
    """RFC 5321 §2.3.8: aiosmtpd's address parser would drop the CR and read another address;
    the command line is refused before it (gateway/smtp/commands.py)."""
    gw = await gateway_factory(upstream.url)
    wire = await Wire.open(gw.smtp_port)
    try:
        assert (await wire.command(b"EHLO client.test")).startswith(b"250")
        if command != b"EHLO client.test":
            assert (await wire.command(command)).startswith(b"250")
        reply = await wire.command(hostile)
        assert reply[:3] in (b"501", b"553"), reply
    finally:
        await wire.close()


@pytest.mark.parametrize(
    "helo",
    [
        b"evil.example\rX-Injected: yes",
        b"evil.example\x00X-Injected: yes",
        b"evil.example\r\tX-Injected: yes",
        b"evil.example (\r\n) \\",
    ],
    ids=["cr", "nul", "cr-tab", "crlf-comment"],
)
async def test_ehlo_argument_cannot_inject_into_received(upstream, gateway_factory, helo):
    gw = await gateway_factory(upstream.url)
    wire = await Wire.open(gw.smtp_port)
    try:
        await wire.send(b"EHLO " + helo + b"\r\n")
        ehlo = await wire.reply()
        # A LF in the argument splits the line: answer both parts, whatever they are.
        if b"\n" in helo:
            await wire.reply()
        assert ehlo[:1] in b"25", ehlo
        await wire.command(b"RSET")
        await _normal_message_still_served(wire, upstream, greet=not ehlo.startswith(b"250"))
    finally:
        await wire.close()
    (captured,) = [m for m in upstream.handler.messages if "after@example.org" in m.recipients]
    prefix = captured.data[: -len(NORMAL)]
    assert b"\x00" not in prefix
    assert prefix.count(b"\r") == prefix.count(b"\n") == prefix.count(b"\r\n")
    assert b"\r\nX-Injected" not in prefix


async def _normal_message_still_served(wire: Wire, upstream, greet: bool = False) -> None:
    if greet:
        assert (await wire.command(b"EHLO client.test")).startswith(b"250")
    assert (await wire.command(b"MAIL FROM:<app@example.com>")).startswith(b"250 ")
    assert (await wire.command(b"RCPT TO:<after@example.org>")).startswith(b"250 ")
    await _data(wire)
    await _clean_envelopes(upstream)


async def _data(wire: Wire) -> None:
    assert (await wire.command(b"DATA")).startswith(b"354")
    await wire.send(dot_stuffed(NORMAL))
    assert (await wire.reply()).startswith(b"250 2.0.0")


async def _clean_envelopes(upstream) -> None:
    """What reached the upstream carries no CR, LF or NUL in its envelope."""
    captured = await wait_for_recipient(upstream, "after@example.org")
    for message in captured:
        for address in (message.sender, *message.recipients):
            assert not set(address) & set("\r\n\x00"), address
