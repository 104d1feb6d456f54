"""Senders and recipients as cron, frameworks and bounces write them (issue 9).

The null sender (RFC 5321 §4.5.5) and dotless or special-use domains are relayed, as
Postfix relays them; the upstream decides deliverability. Every address refused at MAIL or
RCPT is a decision row with the client's text.
"""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

from gateway.store.records import ConsentEvent, DecisionQuery
from tests.support.seed import GRANTED
from tests.support.smtp import dialogue

TRANSACTIONAL = (
    b"From: root@localhost\r\n"
    b"To: ops@myhost\r\n"
    b"Subject: cron: backup done\r\n"
    b"X-Gatekeeper-Purpose: transactional\r\n"
    b"\r\n"
    b"backup finished\r\n"
)


def send(port: int, sender: str, recipients: list[str], data: bytes) -> dict:
    with smtplib.SMTP("127.0.0.1", port) as client:
        return client.sendmail(sender, recipients, data)


async def test_null_sender_is_relayed_with_an_empty_envelope_sender(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)
    refused = await asyncio.to_thread(send, gw.smtp_port, "<>", ["ops@example.org"], TRANSACTIONAL)
    assert refused == {}
    (captured,) = await asyncio.to_thread(upstream.handler.wait_for, 1)
    # "<>" is how aiosmtpd (the upstream here) records `MAIL FROM:<>`
    assert (captured.sender, captured.recipients) == ("<>", ["ops@example.org"])
    (delivered,) = await delivery_rows(gw, 1)
    assert (delivered.action, delivered.sender) == ("allow", "")


async def test_null_sender_mail_that_bounces_gets_no_report(upstream, gateway_factory):
    """A bounce about a bounce would loop: the report is never written (RFC 5321 §4.5.5)."""
    upstream.handler.refuse["gone@example.org"] = "550 5.1.1 no such user"
    gw = await gateway_factory(upstream.url)
    await asyncio.to_thread(send, gw.smtp_port, "<>", ["gone@example.org"], TRANSACTIONAL)
    bounced = await delivery_rows(gw, 1)
    assert [(d.recipient, d.action, d.sender) for d in bounced] == [
        ("gone@example.org", "deny", "")
    ]
    # A report is committed with the bounce itself: after the flush it would be spooled.
    assert await gw.store.spool_list() == []
    assert upstream.handler.messages == []


async def test_null_sender_partial_refusal_gets_no_refusal_report(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, policy={"refusal_report": True})
    await gw.store.record_consent(
        [ConsentEvent("a@example.org", "marketing", "grant", GRANTED, "form", "{}")]
    )
    marketing = TRANSACTIONAL.replace(b"transactional", b"marketing") + b"%unsubscribe_url%\r\n"
    code, text = await asyncio.to_thread(partial_send, gw.smtp_port, marketing)
    assert (code, b"1 of 2 recipients accepted, 1 refused" in text) == (250, True)
    await asyncio.to_thread(upstream.handler.wait_for, 1)
    await gw.writer.flush()
    # A report would now be spooled, or delivered: neither is addressed to anyone else.
    assert {e.recipient for e in await gw.store.spool_list()} <= {"a@example.org"}
    assert [m.recipients for m in upstream.handler.messages] == [["a@example.org"]]


def partial_send(port: int, data: bytes) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.ehlo()
        client.mail("<>")
        client.rcpt("a@example.org")
        client.rcpt("b@example.org")
        return client.data(data)


async def delivery_rows(gw, count: int) -> list:
    """The `delivery` rows once `count` exist (flushing, bounded)."""
    for _ in range(500):
        await gw.writer.flush()
        rows = [d for _, d in await gw.store.decisions(DecisionQuery(phase="delivery"))]
        if len(rows) >= count:
            await gw.writer.flush()
            return rows
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {count} delivery rows")


async def test_dotless_and_special_use_domains_are_relayed(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)
    for sender in ("root@localhost", "cron@myhost", "me@laptop.local"):
        refused = await asyncio.to_thread(
            send, gw.smtp_port, sender, ["root@localhost", "ops@myhost"], TRANSACTIONAL
        )
        assert refused == {}
    captured = await asyncio.to_thread(upstream.handler.wait_for, 6)
    assert sorted({m.sender for m in captured}) == [
        "cron@myhost",
        "me@laptop.local",
        "root@localhost",
    ]
    assert {r for m in captured for r in m.recipients} == {"root@localhost", "ops@myhost"}


def django_message(purpose: str | None) -> EmailMessage:
    """What Django's send_mail() builds with its defaults (DEFAULT_FROM_EMAIL)."""
    message = EmailMessage()
    message["Subject"] = "Welcome"
    message["From"] = "webmaster@localhost"
    message["To"] = "ann@example.org"
    if purpose:
        message["X-Gatekeeper-Purpose"] = purpose
    message.set_content("Hello Ann")
    return message


def send_message(port: int, message: EmailMessage) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port) as client:
        try:
            client.send_message(message)
        except smtplib.SMTPDataError as exc:
            return exc.smtp_code, exc.smtp_error
    return 250, b""


async def test_django_default_sender_is_taught_then_delivered(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)
    code, text = await asyncio.to_thread(send_message, gw.smtp_port, django_message(None))
    assert code == 550
    reply = text.decode()
    assert reply.startswith(
        "5.7.1 no-consent: marketing (undeclared: set X-Gatekeeper-Purpose"
        " or a [[streams]] entry); rule "
    )
    assert "(ref " in reply
    code, _ = await asyncio.to_thread(send_message, gw.smtp_port, django_message("transactional"))
    assert code == 250
    (captured,) = await asyncio.to_thread(upstream.handler.wait_for, 1)
    assert (captured.sender, captured.recipients) == ("webmaster@localhost", ["ann@example.org"])


async def test_address_refusals_are_decision_rows_with_the_client_text(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)
    replies = await asyncio.to_thread(
        dialogue,
        gw.smtp_port,
        [
            b"EHLO client.test",
            b"MAIL FROM:<two@@example.org>",
            b"MAIL FROM:<app@example.com>",
            b"RCPT TO:<a@-bad-.example>",
            b"RCPT TO:<has space@example.org>",
            b"RCPT TO:<>",
            b"QUIT",
        ],
    )
    mail, _, *rcpts = replies[2:-1]
    assert mail.startswith(b"553 5.1.7 invalid-address: sender <two@@example.org>: ")
    assert [r[:34] for r in rcpts] == [b"553 5.1.3 invalid-address: recipie"] * 3
    refs = [r.decode().rsplit("(ref ", 1)[1].rstrip(")") for r in (mail, *rcpts)]
    await gw.writer.flush()
    rows = {d.id: d for _, d in await gw.store.decisions(DecisionQuery(reason="invalid-address"))}
    assert [(rows[r].phase, rows[r].action, rows[r].sender, rows[r].recipient) for r in refs] == [
        ("rcpt", "deny", "two@@example.org", ""),
        ("rcpt", "deny", "app@example.com", "a@-bad-.example"),
        ("rcpt", "deny", "app@example.com", "has space@example.org"),
        ("rcpt", "deny", "app@example.com", "<>"),
    ]
    assert all(rows[r].rule == "smtp.address.syntax" and rows[r].detail for r in refs)
