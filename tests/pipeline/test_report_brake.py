"""The complaint-rate brake end to end (docs/design.md §8): past `complaints.pause_rate`
with `complaints.min_volume` deliveries a sender domain's marketing is answered 451 4.7.1,
its transactional mail flows, and `gatekeeper senders resume` lifts the pause."""

from __future__ import annotations

import asyncio
import smtplib

from tests.support.cli import run_cli
from tests.support.messages import MARKETING, RECEIPT, send
from tests.support.reports import arf
from tests.support.seed import seed
from tests.support.waiting import settled, wait_until

REPORTS = "postmaster@bounces.gw.test"
PEOPLE = ["p1@example.com", "p2@example.com", "p3@example.com"]


def complain(port: int, data: bytes) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        client.mail("<>")
        client.rcpt(REPORTS)
        return client.data(data)


def refused(port: int, sender: str, data: bytes) -> tuple[int, str]:
    try:
        send(port, ["p2@example.com"], data, sender=sender)
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = exc.recipients["p2@example.com"]
        return code, text.decode()
    return 250, ""


async def test_complaints_past_the_rate_pause_marketing_until_resumed(
    upstream, gateway_factory, tmp_path
):
    gw = await gateway_factory(
        upstream.url,
        bounces={"address": REPORTS},
        complaints={"min_volume": 3, "pause_rate": 0.003, "warn_rate": 0.001},
        streams=[
            {"sender": "news@shop.example", "purpose": "marketing", "topic": "newsletter"},
            {"sender": "receipts@shop.example", "purpose": "transactional"},
        ],
    )
    await seed(gw.store, PEOPLE)
    await asyncio.to_thread(send, gw.smtp_port, PEOPLE, MARKETING, "news@shop.example")
    await settled(gw)
    original = upstream.handler.messages[0].data
    code, _ = await asyncio.to_thread(complain, gw.smtp_port, arf(original, "p1@example.com"))
    assert code == 250

    code, text = await asyncio.to_thread(refused, gw.smtp_port, "news@shop.example", MARKETING)
    assert code == 451 and text.startswith("4.7.1 Sender domain shop.example paused")
    assert "complaint rate 33.33%" in text and "above 0.30% (complaints.pause_rate)" in text
    receipt = RECEIPT.replace(b"app@example.com", b"receipts@shop.example")
    assert await asyncio.to_thread(refused, gw.smtp_port, "receipts@shop.example", receipt) == (
        250,
        "",
    )

    listed = await asyncio.to_thread(run_cli, "senders", "list", cwd=tmp_path)
    assert "shop.example" in listed.stdout and "PAUSED" in listed.stdout
    resumed = await asyncio.to_thread(run_cli, "senders", "resume", "shop.example", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    brake = gw.reports.brake
    await wait_until(lambda: brake.refusal("news@shop.example", "marketing") is None)
    assert await asyncio.to_thread(refused, gw.smtp_port, "news@shop.example", MARKETING) == (
        250,
        "",
    )
    again = await asyncio.to_thread(run_cli, "senders", "resume", "shop.example", cwd=tmp_path)
    assert again.returncode == 2 and "is not paused" in again.stderr
