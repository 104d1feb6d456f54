"""One-click unsubscribe end to end: headers per recipient, DKIM, placeholder, mailto."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import quopri
import re
import smtplib
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from gateway.consent import tokens
from gateway.pipeline.transform.dkim import DkimSigner
from gateway.store.records import ConsentEvent, DecisionQuery
from tests.support.seed import GRANTED
from tests.support.waiting import settled

SECRET = "unsubscribe-test-secret"
PEOPLE = ["ann@example.com", "ben@example.com"]


def marketing(body_headers: bytes, body: bytes) -> bytes:
    return (
        b"From: Shop <news@shop.example>\r\n"
        b"To: list@shop.example\r\n"
        b"Subject: Offers\r\n"
        b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
        b"Message-ID: <offers-2@shop.example>\r\n"
        b"X-Gatekeeper-Purpose: marketing\r\n"
        b"X-Gatekeeper-Topic: newsletter\r\n"
        b"List-Unsubscribe: <https://app.example/old>\r\n"
        b"MIME-Version: 1.0\r\n" + body_headers + b"\r\n" + body
    )


PLAIN = marketing(
    b"Content-Type: text/plain; charset=utf-8\r\n", b"Offers. Leave: %unsubscribe_url%\r\n"
)


@pytest.fixture
def dkim_key(tmp_path: Path) -> Path:
    path = tmp_path / "dkim.pem"
    path.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


@pytest.fixture
async def gw(upstream, gateway_factory, dkim_key):
    gateway = await gateway_factory(
        upstream.url,
        http={"public_url": "https://gw.example"},
        unsubscribe={"secret": [SECRET], "mailto_domain": "gw.example"},
        dkim={"domain": "shop.example", "selector": "s1", "key_file": str(dkim_key)},
        streams=[
            {"sender": "app@example.com", "purpose": "transactional"},
            {"sender": "stream@shop.example", "purpose": "marketing", "topic": "newsletter"},
        ],
    )
    await gateway.store.record_consent(
        [
            ConsentEvent(p, "newsletter", "grant", GRANTED, "signup-form", '{"ip": "192.0.2.7"}')
            for p in PEOPLE
        ]
    )
    return gateway


def send(port: int, sender: str, recipients: list[str], data: bytes) -> dict:
    with smtplib.SMTP("127.0.0.1", port) as client:
        return client.sendmail(sender, recipients, data)


def headers_of(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def token_in(url_field: str) -> str:
    match = re.search(r"<https://gw\.example/u/([A-Za-z0-9_-]+)>", url_field)
    assert match, url_field
    return match.group(1)


async def test_each_copy_has_its_own_headers_and_a_valid_dkim_signature(gw, upstream, dkim_key):
    await asyncio.to_thread(send, gw.smtp_port, "news@shop.example", PEOPLE, PLAIN)
    captured = await asyncio.to_thread(upstream.handler.wait_for, 2)
    signer = DkimSigner("shop.example", "s1", str(dkim_key))
    seen = {}
    for message in captured:
        (recipient,) = message.recipients
        parsed = headers_of(message.data)
        assert len(parsed.get_all("List-Unsubscribe")) == 1  # the app's own one is replaced
        assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        claims = tokens.verify(
            [SECRET.encode()], token_in(parsed["List-Unsubscribe"]), datetime.now(UTC)
        )
        assert (claims.recipient, claims.scope) == (recipient, "newsletter")
        assert "mailto:unsubscribe" in parsed["List-Unsubscribe"]
        body = parsed.get_content()
        assert f"https://gw.example/u/{token_in(parsed['List-Unsubscribe'])}" in body
        assert dkim.verify(
            message.data, dnsfunc=lambda name, timeout=5: signer.public_dns_record().encode()
        )
        signed = re.sub(r"\s+", "", parsed["DKIM-Signature"])
        h = dict(t.split("=", 1) for t in signed.strip(";").split(";"))["h"].lower().split(":")
        assert "list-unsubscribe" in h and "list-unsubscribe-post" in h
        seen[recipient] = parsed["List-Unsubscribe"]
    assert set(seen) == set(PEOPLE) and len(set(seen.values())) == 2


async def test_transactional_mail_gets_no_unsubscribe_fields(gw, upstream):
    receipt = b"From: a@shop.example\r\nSubject: Receipt\r\n\r\nThanks\r\n"
    await asyncio.to_thread(send, gw.smtp_port, "app@example.com", ["ann@example.com"], receipt)
    (message,) = await asyncio.to_thread(upstream.handler.wait_for, 1)
    assert b"List-Unsubscribe" not in message.data
    assert message.data.endswith(receipt)


async def test_one_click_post_then_next_message_is_refused(gw, upstream):
    await asyncio.to_thread(send, gw.smtp_port, "news@shop.example", ["ann@example.com"], PLAIN)
    (message,) = await asyncio.to_thread(upstream.handler.wait_for, 1)
    token = token_in(headers_of(message.data)["List-Unsubscribe"])
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"http://127.0.0.1:{gw.http_port}/u/{token}", data={"List-Unsubscribe": "One-Click"}
        ) as reply,
    ):
        assert reply.status == 200

    def rcpt() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", gw.smtp_port) as client:
            client.ehlo()
            client.mail("stream@shop.example")
            return client.rcpt("ann@example.com")

    code, text = await asyncio.to_thread(rcpt)  # stream-bound: refused at RCPT
    assert code == 550 and text.startswith(b"5.7.1 unsubscribed")
    # header-classified: refused at DATA
    with pytest.raises(smtplib.SMTPDataError) as refused:
        await asyncio.to_thread(send, gw.smtp_port, "news@shop.example", ["ann@example.com"], PLAIN)
    assert refused.value.smtp_code == 550 and b"unsubscribed" in refused.value.smtp_error


async def test_mailto_unsubscribe_through_smtp(gw, upstream):
    token = tokens.issue([SECRET.encode()], "ben@example.com", "newsletter", datetime.now(UTC))
    address, subject = tokens.mailto_address(token, "gw.example")
    request = (
        f"From: ben@example.com\r\nSubject: {subject or 'unsubscribe'}\r\n\r\nplease\r\n"
    ).encode()
    auto = request.replace(b"Subject:", b"Auto-Submitted: auto-replied\r\nSubject:")
    await asyncio.to_thread(send, gw.smtp_port, "ben@example.com", [address], auto)
    assert await gw.store.suppressions("ben@example.com") == []
    await asyncio.to_thread(send, gw.smtp_port, "ben@example.com", [address], request)
    (entry,) = await gw.store.suppressions("ben@example.com")
    assert (entry.scope, entry.reason, entry.source) == ("newsletter", "unsubscribed", "mailto")
    await gw.writer.flush()
    rows = await gw.store.decisions(DecisionQuery(phase="unsubscribe"))
    assert [(d.recipient, d.detail) for _, d in rows] == [("ben@example.com", "mailto")]
    assert await settled(gw) == []  # neither request was spooled for relay
    assert upstream.handler.messages == []


async def test_unsubscribe_address_is_reachable_without_relay_rights(upstream, gateway_factory):
    gw = await gateway_factory(
        upstream.url,
        smtp={"allow_networks": ["192.0.2.0/24"]},  # loopback may not relay
        unsubscribe={"secret": [SECRET], "mailto_domain": "gw.example"},
    )
    token = tokens.issue([SECRET.encode()], "ann@example.com", "all", datetime.now(UTC))
    address, _ = tokens.mailto_address(token, "gw.example")

    def attempt() -> tuple[tuple[int, bytes], tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", gw.smtp_port) as client:
            client.ehlo()
            client.mail("someone@elsewhere.example")
            return client.rcpt(address), client.rcpt("victim@example.org")

    to_mailbox, to_other = await asyncio.to_thread(attempt)
    assert to_mailbox[0] == 250
    assert to_other == (530, b"5.7.0 Authentication required")


def qp_and_base64_message() -> bytes:
    plain = quopri.encodestring("Grüße! Abmelden hier: %unsubscribe_url% danke".encode()).replace(
        b"\n", b"\r\n"
    )
    html = base64.encodebytes(
        b'<html><body><a href="%unsubscribe_url%">unsubscribe</a></body></html>'
    ).replace(b"\n", b"\r\n")
    return marketing(
        b'Content-Type: multipart/alternative; boundary="b1"\r\n',
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + plain + b"\r\n"
        b"--b1\r\nContent-Type: text/html; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + html + b"--b1--\r\n",
    )


async def test_placeholder_in_qp_and_base64_parts(gw, upstream):
    await asyncio.to_thread(
        send, gw.smtp_port, "news@shop.example", ["ann@example.com"], qp_and_base64_message()
    )
    (message,) = await asyncio.to_thread(upstream.handler.wait_for, 1)
    parsed = headers_of(message.data)
    url = f"https://gw.example/u/{token_in(parsed['List-Unsubscribe'])}"
    plain = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert f"Abmelden hier: {url} danke" in plain and "Grüße" in plain
    assert f'href="{url}"' in html
    assert b"%unsubscribe_url%" not in message.data


async def test_http_public_url_gives_rfc2369_field_only(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, unsubscribe={"secret": [SECRET]})
    await gw.store.record_consent(
        [ConsentEvent("ann@example.com", "newsletter", "grant", GRANTED, "api", "x")]
    )
    await asyncio.to_thread(send, gw.smtp_port, "news@shop.example", ["ann@example.com"], PLAIN)
    (message,) = await asyncio.to_thread(upstream.handler.wait_for, 1)
    parsed = headers_of(message.data)
    assert parsed["List-Unsubscribe"].startswith("<http://127.0.0.1/u/")
    assert parsed["List-Unsubscribe-Post"] is None  # RFC 8058 one-click needs HTTPS


async def test_footer_is_added_where_the_body_has_no_link(upstream, gateway_factory):
    gw = await gateway_factory(
        upstream.url,
        http={"public_url": "https://gw.example"},
        unsubscribe={"secret": [SECRET], "footer": True},
        identity={"name": "Shop s.r.o.", "postal_address": "1 Main Street, Brno"},
    )
    await gw.store.record_consent(
        [ConsentEvent("ann@example.com", "newsletter", "grant", GRANTED, "api", "x")]
    )
    bare = marketing(b"Content-Type: text/plain; charset=utf-8\r\n", b"Offers only.\r\n")
    await asyncio.to_thread(send, gw.smtp_port, "news@shop.example", ["ann@example.com"], bare)
    (message,) = await asyncio.to_thread(upstream.handler.wait_for, 1)
    parsed = headers_of(message.data)
    body = parsed.get_content()
    assert body.startswith("Offers only.")
    assert f"https://gw.example/u/{token_in(parsed['List-Unsubscribe'])}" in body
    assert "Shop s.r.o." in body and "1 Main Street, Brno" in body


async def test_a_copy_of_its_own_retried_from_the_spool_keeps_the_trace_fields(
    gw, upstream, dkim_key
):
    # Each copy has a body of its own (the placeholder); both are deferred, so both are read
    # back from the spool for their retry. Without a Message-ID and a Date of
    # its own, the message gets them from the gateway, in front with the Received field.
    bare = re.sub(rb"(Date|Message-ID): [^\r]*\r\n", b"", PLAIN)
    upstream.handler.data_replies = ["451 4.3.0 try later"] * 2
    await asyncio.to_thread(send, gw.smtp_port, "news@shop.example", PEOPLE, bare)
    captured = await asyncio.to_thread(upstream.handler.wait_for, 2, 30)
    signer = DkimSigner("shop.example", "s1", str(dkim_key))
    for message in captured:
        parsed = headers_of(message.data)
        assert parsed["Received"] and parsed["Message-ID"] and parsed["Date"], message.recipients
        assert dkim.verify(
            message.data, dnsfunc=lambda name, timeout=5: signer.public_dns_record().encode()
        )
