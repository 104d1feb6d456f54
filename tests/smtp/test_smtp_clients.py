"""swaks, as the README's "Try it" and cron scripts use it, against a real gateway."""

from __future__ import annotations

import asyncio
import shutil
import smtplib
import subprocess

import pytest

from gateway.store.records import ConsentEvent
from tests.conftest import run_cli
from tests.support.seed import GRANTED

pytestmark = pytest.mark.skipif(shutil.which("swaks") is None, reason="needs swaks")


def swaks(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{port}", "--helo", "client.test", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_swaks_pipelines_a_null_sender_message(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)
    result = await asyncio.to_thread(
        swaks,
        gw.smtp_port,
        "--pipeline",
        "--from",
        "<>",
        "--to",
        "ops@example.org",
        "--header",
        "X-Gatekeeper-Purpose: transactional",
    )
    assert result.returncode == 0, result.stdout
    assert "-> DATA" in result.stdout and "queued as" in result.stdout
    (captured,) = await asyncio.to_thread(upstream.handler.wait_for, 1)
    assert (captured.sender, captured.recipients) == ("<>", ["ops@example.org"])


async def test_swaks_from_a_dotless_host_with_a_refused_recipient(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url)
    result = await asyncio.to_thread(
        swaks,
        gw.smtp_port,
        "--pipeline",
        "--from",
        "root@localhost",
        "--to",
        "root@localhost,bad@@example.org,cron@myhost",
        "--header",
        "X-Gatekeeper-Purpose: transactional",
    )
    assert "<** 553 5.1.3 invalid-address: recipient <bad@@example.org>" in result.stdout
    assert "queued as" in result.stdout
    captured = await asyncio.to_thread(upstream.handler.wait_for, 2)
    assert sorted(r for m in captured for r in m.recipients) == ["cron@myhost", "root@localhost"]


async def test_undeclared_mail_is_refused_with_what_to_do(upstream, gateway_factory):
    """The README's "Try it" without a stream: marketing by default, and the reply says so."""
    gw = await gateway_factory(upstream.url, streams=[])
    result = await asyncio.to_thread(
        swaks, gw.smtp_port, "--from", "app@example.com", "--to", "you@example.org"
    )
    assert result.returncode != 0
    assert (
        "<** 550 5.7.1 no-consent: marketing (undeclared: set X-Gatekeeper-Purpose or a "
        "[[streams]] entry); rule eu.marketing.consent; " in result.stdout
    )


def partly(port: int) -> tuple[int, bytes]:
    marketing = (
        b"From: news@shop.example\r\nSubject: offers\r\nX-Gatekeeper-Purpose: marketing\r\n"
        b"\r\nOffers. %unsubscribe_url%\r\n"
    )
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.ehlo()
        client.mail("news@shop.example")
        client.rcpt("yes@example.org")
        client.rcpt("no@example.org")
        return client.data(marketing)


async def test_partly_refused_reply_names_the_command_that_shows_who_and_why(
    upstream, gateway_factory, tmp_path
):
    gw = await gateway_factory(upstream.url)
    await gw.store.record_consent(
        [ConsentEvent("yes@example.org", "marketing", "grant", GRANTED, "form", "{}")]
    )
    code, text = await asyncio.to_thread(partly, gw.smtp_port)
    assert code == 250 and b"1 of 2 recipients accepted, 1 refused (ref " in text
    command = text.decode().split("; see: ")[1]
    assert command.startswith("gatekeeper log --message-id ")
    await gw.writer.flush()
    shown = await asyncio.to_thread(
        run_cli, "--config", str(tmp_path / "gatekeeper.toml"), *command.split()[1:]
    )
    assert shown.returncode == 0, shown.stderr
    refused = [line for line in shown.stdout.splitlines() if "no@example.org" in line]
    assert len(refused) == 1 and "no-consent" in refused[0]
