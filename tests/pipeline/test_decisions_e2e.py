"""Consent decisions through real SMTP: RCPT-time refusals, DATA-time partial delivery."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import smtplib
import subprocess
import sys
import threading

from gateway.store.records import ConsentEvent, DecisionQuery
from tests.support.cli import run_cli
from tests.support.config import gateway_sections, write_config
from tests.support.messages import MARKETING
from tests.support.seed import GRANTED, seed
from tests.support.waiting import settled


def rcpt_codes(port: int, sender: str, recipients: list[str]) -> list[tuple[int, bytes]]:
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.ehlo()
        client.mail(sender)
        return [client.rcpt(r) for r in recipients]


async def test_stream_bound_session_is_refused_per_recipient_at_rcpt(upstream, gateway_factory):
    gw = await gateway_factory(
        upstream.url,
        streams=[{"sender": "news@shop.example", "purpose": "marketing", "topic": "newsletter"}],
    )
    await seed(gw.store, ["yes@example.com"], ["gone@example.com"])
    codes = await asyncio.to_thread(
        rcpt_codes,
        gw.smtp_port,
        "news@shop.example",
        ["yes@example.com", "no@example.com", "gone@example.com"],
    )
    assert codes[0][0] == 250
    assert codes[1][0] == 550 and codes[1][1].startswith(b"5.7.1 no-consent: marketing ")
    assert codes[2][0] == 550 and codes[2][1].startswith(b"5.7.1 unsubscribed: marketing ")
    await gw.writer.flush()
    ref = codes[1][1].decode().split("ref ")[1].rstrip(")")
    rows = [d for _, d in await gw.store.decisions(DecisionQuery(phase="rcpt"))]
    refused = next(d for d in rows if d.id == ref)
    assert (refused.recipient, refused.action, refused.reason, refused.purpose) == (
        "no@example.com",
        "deny",
        "no-consent",
        "marketing",
    )
    assert refused.rule and refused.cite and refused.jurisdiction == "eu"


def send_as(port: int, sender: str, recipients: list[str], data: bytes) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port) as client:
        try:
            client.sendmail(sender, recipients, data)
        except smtplib.SMTPDataError as exc:
            return exc.smtp_code, exc.smtp_error
    return 250, b""


async def test_stream_rcpt_decision_stands_unless_data_changes_it(upstream, gateway_factory):
    """docs/design.md §2: DATA decides again; a verdict equal to the RCPT one is that decision
    standing (one row), a content refusal is a new decision (a `data` row)."""
    gw = await gateway_factory(
        upstream.url,
        streams=[{"sender": "news@shop.example", "purpose": "marketing", "topic": "newsletter"}],
    )
    await seed(gw.store, ["yes@example.com"])
    assert (
        await asyncio.to_thread(
            send_as, gw.smtp_port, "news@shop.example", ["yes@example.com"], MARKETING
        )
    )[0] == 250
    no_link = MARKETING.replace(b"Unsubscribe: %unsubscribe_url%", b"Bye")
    code, text = await asyncio.to_thread(
        send_as, gw.smtp_port, "news@shop.example", ["yes@example.com"], no_link
    )
    assert code == 550 and text.startswith(b"5.7.1 missing-unsubscribe-link: ")
    await gw.writer.flush()
    rows = [d for _, d in await gw.store.decisions(DecisionQuery())]
    assert [(d.phase, d.action, d.basis or d.reason) for d in rows if d.phase != "delivery"] == [
        ("rcpt", "allow", "consent"),
        ("rcpt", "allow", "consent"),
        ("data", "deny", "missing-unsubscribe-link"),
    ]
    assert rows[-1].message_id == "offers-1@shop.example"


async def test_promotional_stream_transactional_mail_is_noted(upstream, gateway_factory):
    """A declared purpose stands, but promotional markers in transactional mail leave a
    warning on a DATA decision of its own (docs/design.md §2)."""
    gw = await gateway_factory(
        upstream.url,
        streams=[{"sender": "app@shop.example", "purpose": "transactional"}],
    )
    receipt = b"From: app@shop.example\r\nSubject: Your receipt\r\n\r\nThanks. 20% off: SALE\r\n"
    assert (
        await asyncio.to_thread(
            send_as, gw.smtp_port, "app@shop.example", ["buyer@example.com"], receipt
        )
    )[0] == 250
    await asyncio.to_thread(upstream.handler.wait_for, 1)
    await gw.writer.flush()
    ((_, row),) = await gw.store.decisions(DecisionQuery(phase="data"))
    assert (row.action, row.basis, row.recipient) == ("allow", "transactional", "buyer@example.com")
    assert "warning: promotional content in transactional mail" in row.detail


async def test_header_classified_message_delivers_to_allowed_and_counts(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)
    await seed(gw.store, ["a@example.com", "b@example.com"])

    def send() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", gw.smtp_port) as client:
            client.ehlo()
            client.mail("news@shop.example")
            for r in ("a@example.com", "c@example.com", "b@example.com"):
                assert client.rcpt(r)[0] == 250
            return client.data(MARKETING)

    code, text = await asyncio.to_thread(send)
    assert code == 250
    assert b"2 of 3 recipients accepted, 1 refused (ref " in text
    captured = await asyncio.to_thread(upstream.handler.wait_for, 2)
    got = sorted(r for m in captured for r in m.recipients)
    assert got == ["a@example.com", "b@example.com"]
    for message in captured:
        # control fields never leave; the reference for reports is the gateway's own
        fields = re.findall(rb"^(X-Gatekeeper[^:]*):", message.data, re.M | re.I)
        assert fields == [b"X-Gatekeeper-Ref"]
    await gw.writer.flush()
    rows = [d for _, d in await gw.store.decisions(DecisionQuery(phase="data"))]
    verdicts = {d.recipient: (d.action, d.basis or d.reason) for d in rows}
    assert verdicts == {
        "a@example.com": ("allow", "consent"),
        "b@example.com": ("allow", "consent"),
        "c@example.com": ("deny", "no-consent"),
    }


async def test_all_refused_answers_550(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)

    def send() -> tuple[int, bytes]:
        with smtplib.SMTP("127.0.0.1", gw.smtp_port) as client:
            try:
                client.sendmail("news@shop.example", ["x@example.com", "y@example.com"], MARKETING)
            except smtplib.SMTPDataError as exc:
                return exc.smtp_code, exc.smtp_error
        raise AssertionError("accepted")

    code, text = await asyncio.to_thread(send)
    assert code == 550 and text.startswith(b"5.7.1 no-consent x2: ")
    assert await settled(gw) == []  # nothing spooled, so nothing will be sent
    assert upstream.handler.messages == []


async def test_partial_reject_refuses_whole_message(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, policy={"partial": "reject"})
    await seed(gw.store, ["a@example.com"])

    def send() -> int:
        with smtplib.SMTP("127.0.0.1", gw.smtp_port) as client:
            try:
                client.sendmail("news@shop.example", ["a@example.com", "z@example.com"], MARKETING)
            except smtplib.SMTPDataError as exc:
                assert b"1 of 2 recipients refused: no-consent" in exc.smtp_error
                return exc.smtp_code
        return 250

    assert await asyncio.to_thread(send) == 550


async def test_unknown_purpose_is_marketing_and_fails_safe(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)
    plain = b"From: a@b.example\r\nSubject: hello\r\n\r\njust text\r\n"

    def send() -> int:
        with smtplib.SMTP("127.0.0.1", gw.smtp_port) as client:
            try:
                client.sendmail("someone@shop.example", ["p@example.com"], plain)
            except smtplib.SMTPDataError as exc:
                return exc.smtp_code
        return 250

    assert await asyncio.to_thread(send) == 550
    await gw.writer.flush()
    ((_, row),) = await gw.store.decisions(DecisionQuery(phase="data"))
    assert (row.purpose, row.reason) == ("marketing", "no-consent")


async def test_header_cannot_loosen_the_stream(upstream, gateway_factory):
    gw = await gateway_factory(
        upstream.url,
        streams=[{"sender": "news@shop.example", "purpose": "marketing"}],
    )
    await gw.store.record_consent(
        [ConsentEvent("m@example.com", "marketing", "grant", GRANTED, "api", "x")]
    )
    loosened = MARKETING.replace(b"Purpose: marketing", b"Purpose: transactional")

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", gw.smtp_port) as client:
            client.sendmail("news@shop.example", ["m@example.com"], loosened)

    await asyncio.to_thread(send)
    await gw.writer.flush()
    rows = [d for _, d in await gw.store.decisions(DecisionQuery(phase="data"))]
    assert [(d.purpose, d.basis) for d in rows] == [("marketing", "consent")]


def test_log_json_has_exactly_the_contract_fields(tmp_path, process_factory, upstream):
    sections = gateway_sections(tmp_path, upstream.url)
    config = write_config(tmp_path, sections)
    proc = process_factory(config).start()
    # refused for lack of consent: what matters is the decision row it leaves
    with (
        smtplib.SMTP("127.0.0.1", proc.smtp_port) as client,
        contextlib.suppress(smtplib.SMTPDataError),
    ):
        client.sendmail("news@shop.example", ["who@example.com"], MARKETING)
    assert proc.terminate() == 0
    result = run_cli("--config", str(config), "log", "--format", "json", "--reason", "no-consent")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 1
    assert list(rows[0]) == [
        "id",
        "time",
        "instance",
        "session_id",
        "message_id",
        "client",
        "auth_user",
        "sender",
        "recipient",
        "purpose",
        "topic",
        "jurisdiction",
        "phase",
        "action",
        "basis",
        "reason",
        "rule",
        "cite",
    ]
    row = rows[0]
    assert (row["phase"], row["action"], row["reason"], row["purpose"], row["topic"]) == (
        "data",
        "deny",
        "no-consent",
        "marketing",
        "newsletter",
    )
    assert row["message_id"] == "offers-1@shop.example" and row["time"].endswith("Z")
    assert row["sender"] == "news@shop.example" and row["client"].startswith("127.0.0.1:")
    stats = run_cli("--config", str(config), "stats")
    assert "no-consent" in stats.stdout and "marketing" in stats.stdout


async def test_refusal_report_tells_the_sender_which_recipients_were_refused(
    upstream, gateway_factory
):
    gw = await gateway_factory(upstream.url, policy={"refusal_report": True})
    await seed(gw.store, ["a@example.com"])

    def send() -> None:
        with smtplib.SMTP("127.0.0.1", gw.smtp_port) as client:
            client.sendmail("news@shop.example", ["a@example.com", "c@example.com"], MARKETING)

    await asyncio.to_thread(send)
    captured = await asyncio.to_thread(upstream.handler.wait_for, 2)
    (report,) = [m for m in captured if m.sender in ("", "<>")]
    assert report.recipients == ["news@shop.example"]
    assert b"Final-Recipient: rfc822; c@example.com" in report.data
    assert b"Diagnostic-Code: smtp; 550 5.7.1 no-consent: " in report.data
    assert (
        b"a@example.com"
        not in report.data.split(b"message/delivery-status")[1].split(b"text/rfc822-headers")[0]
    )


def test_log_follow_prints_new_rows(tmp_path, process_factory, upstream):
    config = write_config(tmp_path, gateway_sections(tmp_path, upstream.url))
    proc = process_factory(config).start()
    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gateway",
            "--config",
            str(config),
            "log",
            "--follow",
            "--format",
            "json",
            "--phase",
            "delivery",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = threading.Timer(30, follower.kill)  # bounds the blocking read below
    deadline.start()
    try:
        with smtplib.SMTP("127.0.0.1", proc.smtp_port) as client:
            client.sendmail("app@example.com", ["f@example.org"], b"Subject: receipt\r\n\r\nx\r\n")
        assert follower.stdout is not None
        row = json.loads(follower.stdout.readline())  # blocks until the row is printed
        assert (row["recipient"], row["reason"]) == ("f@example.org", "delivered")
    finally:
        deadline.cancel()
        follower.kill()
        follower.wait(10)
    assert proc.terminate() == 0
