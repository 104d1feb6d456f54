"""The SMTP clients apps really use, sending through a real gateway to a capturing upstream:
Django, nodemailer (pooled), Ruby's Net::SMTP, PHPMailer and swaks. Each test asserts what
arrives upstream. A test is skipped only when its runtime is not installed; scripts/test.sh
installs them all, so CI skips none."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.support.servers import Captured, Upstream

pytestmark = pytest.mark.clients

CLIENTS = Path(__file__).resolve().parents[1] / "clients"
NODE_DIR = CLIENTS / "node"
PHPMAILER = Path("/usr/share/php/libphp-phpmailer/autoload.php")
# every byte value, so only a correct transfer encoding brings it through unchanged
ATTACHMENT = bytes(range(256)) * 64


@pytest.fixture
def attachment(tmp_path: Path) -> Path:
    path = tmp_path / "invoice.pdf"
    path.write_bytes(ATTACHMENT)
    return path


@pytest.fixture
async def smtp_port(upstream: Upstream, gateway_factory) -> int:  # type: ignore[no-untyped-def]
    streams = [
        {"sender": "app@example.com", "purpose": "transactional"},
        # Django's send_mail cannot set headers: its default sender is declared here instead
        {"sender": "webmaster@localhost", "purpose": "transactional"},
    ]
    gw = await gateway_factory(upstream.url, streams=streams)
    return int(gw.smtp_port)


def needs(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (scripts/test.sh installs it)")
    return path


async def run(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, argv, cwd=cwd, capture_output=True, text=True, timeout=120
    )


async def arrived(
    upstream: Upstream, recipients: int
) -> dict[str, tuple[str, list[str], EmailMessage]]:
    """What reached the upstream by Subject: envelope sender, all recipients, the message."""
    captured: list[Captured] = await asyncio.to_thread(upstream.handler.wait_for, recipients)
    seen: dict[str, tuple[str, list[str], EmailMessage]] = {}
    for item in captured:
        msg = message_from_bytes(item.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        assert "X-Gatekeeper-Purpose" not in msg
        _, earlier, _ = seen.get(str(msg["Subject"]), ("", [], msg))
        seen[str(msg["Subject"])] = (item.sender, sorted(earlier + item.recipients), msg)
    return seen


def attached(msg: EmailMessage) -> dict[str, bytes]:
    return {str(part.get_filename()): part.get_content() for part in msg.iter_attachments()}


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def test_django_send_mail_from_its_default_sender(upstream: Upstream, smtp_port: int) -> None:
    ok(await run(sys.executable, str(CLIENTS / "django_send.py"), str(smtp_port), "send_mail"))
    sender, rcpts, msg = (await arrived(upstream, 1))["Password reset"]
    assert (sender, rcpts) == ("webmaster@localhost", ["you@example.org"])
    assert "123456" in msg.get_content()


async def test_django_alternatives_with_an_attachment(
    upstream: Upstream, smtp_port: int, attachment: Path
) -> None:
    script = str(CLIENTS / "django_send.py")
    ok(await run(sys.executable, script, str(smtp_port), "alternatives", str(attachment)))
    sender, rcpts, msg = (await arrived(upstream, 2))["Your invoice"]
    assert (sender, rcpts) == ("billing@example.com", ["accounts@example.org", "you@example.org"])
    assert attached(msg) == {"invoice.pdf": ATTACHMENT}
    assert msg.get_body(("html",)) is not None


@pytest.fixture
def nodemailer() -> Path:
    node = needs("node")
    if not (NODE_DIR / "node_modules" / "nodemailer").is_dir():
        # scripts/test.sh installs it; a bare pytest run installs it here
        subprocess.run(
            [needs("npm"), "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True, timeout=300
        )
    return Path(node)


async def test_nodemailer_pool_with_an_attachment(
    upstream: Upstream, smtp_port: int, attachment: Path, nodemailer: Path
) -> None:
    out = ok(await run(str(nodemailer), "send.js", str(smtp_port), str(attachment), cwd=NODE_DIR))
    assert out.count("250 ") == 2
    got = await arrived(upstream, 3)
    sender, rcpts, msg = got["Your invoice"]
    assert (sender, rcpts) == ("shop@example.com", ["accounts@example.org", "you@example.org"])
    assert attached(msg) == {"invoice.pdf": ATTACHMENT}
    assert got["Shipped"][:2] == ("shop@example.com", ["you@example.org"])


async def test_ruby_net_smtp_from_a_dotless_cron_sender(upstream: Upstream, smtp_port: int) -> None:
    ok(await run(needs("ruby"), str(CLIENTS / "send.rb"), str(smtp_port)))
    sender, rcpts, msg = (await arrived(upstream, 2))["Nightly backup done"]
    assert (sender, rcpts) == ("cron@myhost", ["admin@example.org", "ops@example.org"])
    assert "3 volumes" in msg.get_content()


async def test_phpmailer_with_an_attachment(
    upstream: Upstream, smtp_port: int, attachment: Path
) -> None:
    php = needs("php")
    if not PHPMAILER.exists():
        pytest.skip(f"{PHPMAILER} missing (Debian package libphp-phpmailer)")
    ok(await run(php, str(CLIENTS / "send.php"), str(smtp_port), str(attachment)))
    sender, rcpts, msg = (await arrived(upstream, 1))["Order confirmed"]
    assert (sender, rcpts) == ("orders@example.com", ["you@example.org"])
    assert attached(msg) == {"order.pdf": ATTACHMENT}


async def test_swaks_declared_is_delivered_undeclared_is_refused_with_the_reason(
    upstream: Upstream, smtp_port: int, attachment: Path
) -> None:
    swaks = needs("swaks")
    server = ["--server", f"127.0.0.1:{smtp_port}", "--to", "you@example.org"]
    declared = [
        "--from", "alerts@example.com", "--header", "Subject: Disk almost full",
        "--header", "X-Gatekeeper-Purpose: transactional",
        "--attach", f"@{attachment}",
    ]  # fmt: skip
    ok(await run(swaks, *server, *declared))
    sender, rcpts, msg = (await arrived(upstream, 1))["Disk almost full"]
    assert (sender, rcpts) == ("alerts@example.com", ["you@example.org"])
    assert list(attached(msg).values()) == [ATTACHMENT]

    # nothing declares this one's purpose: it is marketing, and nobody consented
    undeclared = ["--from", "news@example.com", "--header", "Subject: Spring sale"]
    refused = await run(swaks, *server, *undeclared)
    assert refused.returncode != 0
    assert "550 5.7.1" in refused.stdout and "no-consent" in refused.stdout
