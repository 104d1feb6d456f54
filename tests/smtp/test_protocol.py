"""aiosmtpd's command loop as gateway/smtp/protocol.py keeps it, against a real gateway.

LeanSMTP replaces aiosmtpd 1.4.6's per-connection set-up and command loop with its own,
"reply for reply"; these show each behaviour it keeps, as a client sees it on the wire:
the greeting (no enhanced code, RFC 2034 §4); an empty line, a command name that is not
ASCII and a line over the line limit (RFC 5321 §4.5.3.1.4) answered `500` with the session
going on and the rest of a long line never read as commands; the command size limit, and
MAIL's larger one after EHLO; 8-bit arguments carried (the gateway turns SMTPUTF8 on, so
aiosmtpd's "strict ASCII mode" refusal is not reachable); unknown commands and the goodbye
at the fifth; command names in any case; HELP from the lazily bound command table; and the
AUTH mechanisms, bound at first use, listed in EHLO and working in every session.

Not here: STARTTLS-before-MAIL (`530`), since `gateway.app` never turns `require_starttls`
on; the gateway's own command limits (`_command_refusal`: tests/smtp/test_limits.py and
tests/hostile/test_hostile_command_injection.py); addresses of bytes that are not UTF-8
(tests/hostile/test_hostile_undecodable_text.py).
"""

from __future__ import annotations

import asyncio
import base64
import socket
import warnings

import pytest

from gateway.passwords import hash_password
from tests.support.smtp import converse, converse_to_eof, dialogue, read_reply

PASSWORD = "correct horse battery staple"
OK = b"250 2.0.0 OK"
TOO_LONG = b"Command line too long"
BAD_SYNTAX = b"Error: bad syntax"


def check(reply: bytes, code: bytes, text: bytes) -> None:
    assert reply[:4] == code + b" " and text in reply, reply


def mail_line(length: int) -> bytes:
    """A MAIL command of exactly `length` bytes before its CRLF (padded with a parameter)."""
    head = b"MAIL FROM:<app@example.com> "
    return head + b"X" * (length - len(head)) + b"\r\n"


async def test_greeting_names_the_configured_host_without_an_enhanced_code(
    upstream, gateway_factory
):
    gw = await gateway_factory(upstream.url, smtp={"hostname": "mx.protocol.test"})
    greeting, ehlo, quit_ = await asyncio.to_thread(
        dialogue, gw.smtp_port, [b"EHLO client.test", b"QUIT"]
    )
    assert greeting == b"220 mx.protocol.test Gatekeeper ESMTP"  # RFC 2034 §4: no code
    assert ehlo.split(b"\n")[0] == b"250-mx.protocol.test"
    check(quit_, b"221", b"2.0.0")


async def test_a_session_changes_no_process_wide_warnings_filter(
    upstream, gateway_factory, monkeypatch
):
    """aiosmtpd's own set-up (make_loop) turns every warning into an error for a moment,
    for the whole process: one raised meanwhile in another thread (the store's) would
    become an exception there."""
    gw = await gateway_factory(upstream.url)
    changes: list[tuple[object, ...]] = []
    monkeypatch.setattr(warnings, "simplefilter", lambda *args, **_: changes.append(args))
    greeting, quit_ = await asyncio.to_thread(dialogue, gw.smtp_port, [b"QUIT"])
    assert greeting.startswith(b"220 ")
    check(quit_, b"221", b"2.0.0")
    assert changes == []


@pytest.mark.parametrize(
    ("line", "text"),
    [
        pytest.param(b"\r\n", BAD_SYNTAX, id="empty-line"),
        pytest.param(b"N\xc3\x89OP\r\n", BAD_SYNTAX, id="non-ascii-command-name"),
        pytest.param(b"\xff\xfe HELO x\r\n", BAD_SYNTAX, id="8-bit-command-name"),
        pytest.param(b"NOOP " + b"x" * 5000 + b"\r\n", TOO_LONG, id="over-line-limit"),
        # over the line limit nothing of the line is parsed, not even its command name
        pytest.param(b"\xff" + b"x" * 5000 + b"\r\n", TOO_LONG, id="over-line-limit-8-bit"),
    ],
)
async def test_a_bad_line_is_answered_500_and_the_session_goes_on(
    upstream, gateway_factory, line, text
):
    gw = await gateway_factory(upstream.url)
    replies = await asyncio.to_thread(
        converse, gw.smtp_port, [(line + b"NOOP\r\n", 2), (b"QUIT\r\n", 1)]
    )
    check(replies[1], b"500", text)
    assert replies[2] == OK
    check(replies[3], b"221", b"2.0.0")


async def test_the_rest_of_an_over_long_line_is_not_read_as_a_command(upstream, gateway_factory):
    """The line arrives in two writes, its end looking like QUIT: the server reads past the
    limit to the line's end, answers once, and takes the next line as the next command."""
    gw = await gateway_factory(upstream.url)
    replies = await asyncio.to_thread(
        converse,
        gw.smtp_port,
        [
            (b"NOOP " + b"x" * 3000, 0),
            (b"QUIT\r\nNOOP\r\n", 2),
            (b"QUIT\r\n", 1),
        ],
    )
    check(replies[1], b"500", TOO_LONG)
    assert replies[2] == OK  # not 221: "QUIT" was the tail of the long line
    check(replies[3], b"221", b"2.0.0")


async def test_command_size_limit_and_mails_allowance_after_ehlo(upstream, gateway_factory):
    """512 bytes a command line (RFC 5321 §4.5.3.1.4; aiosmtpd counts it without CRLF),
    under the 1001 of the line limit; after EHLO, MAIL may be 36 bytes longer for the SIZE
    (26) and SMTPUTF8 (10) parameters the gateway advertises."""
    gw = await gateway_factory(upstream.url)
    replies = await asyncio.to_thread(
        converse,
        gw.smtp_port,
        [
            (b"HELO client.test\r\n", 1),
            (mail_line(512), 1),
            (mail_line(513), 1),
            (b"EHLO client.test\r\n", 1),
            (mail_line(548), 1),
            (mail_line(549), 1),
            (b"NOOP " + b"x" * 600 + b"\r\n", 1),  # other commands keep 512
            (b"QUIT\r\n", 1),
        ],
    )
    helo_mail_ok, helo_mail_long = replies[2], replies[3]
    ehlo_mail_ok, ehlo_mail_long, noop_long = replies[5], replies[6], replies[7]
    # admitted: without EHLO, aiosmtpd refuses MAIL parameters, not the length
    check(helo_mail_ok, b"501", b"Syntax: MAIL FROM: <address>")
    check(helo_mail_long, b"500", TOO_LONG)
    # admitted: aiosmtpd's own answer to the unknown parameter, not the length
    check(ehlo_mail_ok, b"555", b"MAIL FROM parameters not recognized")
    check(ehlo_mail_long, b"500", TOO_LONG)
    check(noop_long, b"500", TOO_LONG)
    check(replies[8], b"221", b"2.0.0")


def _interleaved(port: int) -> list[bytes]:
    """Session A says EHLO twice, session B connects and says HELO, then A sends a MAIL
    within its EHLO allowance: A's allowance is its own, counted once."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as a:
        reader = a.makefile("rb")
        read_reply(reader)
        for _ in range(2):
            a.sendall(b"EHLO client.test\r\n")
            read_reply(reader)
        assert dialogue(port, [b"HELO other.test", b"QUIT"])[1].startswith(b"250")
        answers = []
        for length in (548, 549):
            a.sendall(mail_line(length))
            answers.append(read_reply(reader))
        return answers


async def test_each_session_has_its_own_command_size_limits(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)
    within, beyond = await asyncio.to_thread(_interleaved, gw.smtp_port)
    check(within, b"555", b"MAIL FROM parameters not recognized")  # admitted by its length
    check(beyond, b"500", TOO_LONG)


async def test_8bit_arguments_are_carried_with_smtputf8_on(upstream, gateway_factory):
    """The gateway enables SMTPUTF8, so arguments are read as UTF-8 (surrogateescape for
    other bytes), never refused `500 Error: strict ASCII mode`."""
    gw = await gateway_factory(upstream.url)
    replies = await asyncio.to_thread(
        converse,
        gw.smtp_port,
        [
            (b"EHLO client.test\r\n", 1),
            (b"NOOP \xff\xfe\r\n", 1),
            (b"MAIL FROM:<app@example.com> SMTPUTF8\r\n", 1),
            ("RCPT TO:<jos\u00e9@example.org>\r\n".encode(), 1),
            (b"DATA\r\n", 1),
            (b"Subject: utf8\r\n\r\nhi\r\n.\r\n", 1),
            (b"QUIT\r\n", 1),
        ],
    )
    assert b"250-SMTPUTF8" in replies[1].split(b"\n")
    assert replies[2] == OK
    check(replies[3], b"250", b"2.1.0")
    check(replies[4], b"250", b"2.1.5")
    check(replies[6], b"250", b"queued as")
    (captured,) = await asyncio.to_thread(upstream.handler.wait_for, 1)
    assert captured.recipients == ["jos\u00e9@example.org"]


async def test_unknown_commands_then_goodbye_at_the_fifth(upstream, gateway_factory):
    """aiosmtpd's BOGUS_LIMIT: four unknown commands are answered 500 (a known one between
    them resets nothing), the fifth 502 and the server closes; a command pipelined after
    it is not answered."""
    gw = await gateway_factory(upstream.url)
    replies, rest = await asyncio.to_thread(
        converse_to_eof,
        gw.smtp_port,
        [
            (b"xyzzy\r\n", 1),
            (b"FOO\r\nBAR bar\r\nNOOP\r\nBAZ\r\n", 4),
            (b"QUUX\r\nNOOP\r\n", 1),
        ],
    )
    check(replies[1], b"500", b'command "XYZZY" not recognized')  # upper-cased
    check(replies[2], b"500", b'command "FOO" not recognized')
    check(replies[3], b"500", b'command "BAR" not recognized')
    assert replies[4] == OK
    check(replies[5], b"500", b'command "BAZ" not recognized')
    check(replies[6], b"502", b"Too many unrecognized commands, goodbye.")
    assert rest == b""  # EOF: closed, and the NOOP after the goodbye got no answer


async def test_command_names_in_any_case(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)
    replies = await asyncio.to_thread(
        dialogue,
        gw.smtp_port,
        [
            b"helo client.test",
            b"noop",
            b"mail from:<app@example.com>",
            b"Rcpt To:<a@example.org>",
            b"rset",
            b"NoOp",
            b"quit",
        ],
    )
    assert replies[1] == b"250 gw.test"
    assert replies[2] == OK
    check(replies[3], b"250", b"2.1.0")
    check(replies[4], b"250", b"2.1.5")
    assert replies[5] == OK and replies[6] == OK
    check(replies[7], b"221", b"2.0.0")


async def test_help_lists_the_commands_and_gives_their_syntax(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)
    replies = await asyncio.to_thread(
        dialogue,
        gw.smtp_port,
        [b"HELP", b"HELP mail", b"HELP XYZZY", b"EHLO client.test", b"HELP MAIL", b"QUIT"],
    )
    listing, mail_syntax, unknown, _, mail_extended = replies[1:6]
    check(listing, b"250", b"Supported commands: ")
    names = listing.split(b"Supported commands: ", 1)[1].split(b" ")
    assert names == sorted(names)
    expected = b"AUTH DATA EHLO HELO HELP MAIL NOOP QUIT RCPT RSET".split()
    assert set(expected) <= set(names)
    assert b"STARTTLS" not in names  # no TLS configured: not offered
    check(mail_syntax, b"250", b"Syntax: MAIL FROM: <address>")
    assert mail_syntax.endswith(b"<address>")  # the parameters only after EHLO
    check(unknown, b"501", b"Supported commands: ")  # an unknown topic: the list, as 501
    assert mail_extended.endswith(b"Syntax: MAIL FROM: <address> [SP <mail-parameters>]")


def plain(password: str) -> bytes:
    return b"AUTH PLAIN " + base64.b64encode(f"\0app\0{password}".encode())


async def test_auth_mechanisms_are_listed_and_work_in_every_session(upstream, gateway_factory):
    """The AUTH table is bound per session at its first use (EHLO or AUTH); on loopback
    AUTH needs no TLS. With AUTH required, a MAIL accepted after AUTH PLAIN shows that the
    session that answered 235 is the one that is authenticated."""
    gw = await gateway_factory(
        upstream.url,
        smtp={
            "require_auth": True,
            "users": [{"name": "app", "password_hash": hash_password(PASSWORD, "scrypt")}],
        },
    )
    lines = [
        b"EHLO client.test",
        b"MAIL FROM:<app@example.com>",
        b"AUTH CRAM-MD5",
        b"AUTH LOGIN",
        b"*",
        plain(PASSWORD),
        b"MAIL FROM:<app@example.com>",
        b"QUIT",
    ]
    for _session in range(2):
        replies = await asyncio.to_thread(dialogue, gw.smtp_port, lines)
        assert b"250-AUTH LOGIN PLAIN" in replies[1].split(b"\n")
        check(replies[2], b"530", b"Authentication required")
        check(replies[3], b"504", b"Unrecognized authentication type")
        assert replies[4] == b"334 " + base64.b64encode(b"User Name\0")
        check(replies[5], b"501", b"Auth aborted")
        check(replies[6], b"235", b"Authentication successful")
        check(replies[7], b"250", b"2.1.0")
