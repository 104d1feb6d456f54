"""Real servers on loopback: a capturing upstream SMTP server, and `gatekeeper serve` run as
a separate process for crash and signal tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Captured:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class CaptureHandler:
    """Upstream stand-in: records what it accepts; scripted refusals for tests."""

    messages: list[Captured] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    data_replies: list[str] = field(default_factory=list)
    """Replies to DATA used up one by one before accepting (e.g. two 451s)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            if self.data_replies:
                return self.data_replies.pop(0)
            self.messages.append(
                Captured(
                    envelope.mail_from or "",
                    list(envelope.rcpt_tos),
                    envelope.original_content or b"",
                )
            )
        return "250 2.0.0 captured"

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Captured]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if sum(len(m.recipients) for m in self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.02)
        raise AssertionError(f"upstream got {len(self.messages)} messages, expected {count} rcpts")


class Upstream:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.handler = CaptureHandler()
        self.controller: Controller | None = None

    def start(self) -> Upstream:
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            ready_timeout=10,
            server_hostname="upstream.test",
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


class GatewayProcess:
    """`gatekeeper serve` as a separate process, for crash and signal tests."""

    def __init__(self, config: Path, cwd: Path) -> None:
        self.config = config
        self.cwd = cwd
        self.proc: subprocess.Popen[str] | None = None
        self.smtp_port = 0
        self.http_port = 0

    def start(self, args: tuple[str, ...] | None = None) -> GatewayProcess:
        argv = [sys.executable, "-m", "gateway"]
        argv += list(args) if args is not None else ["--config", str(self.config), "serve"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEKEEPER_")}
        self.proc = subprocess.Popen(
            argv,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 20
        seen = []
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if line.startswith("READY"):
                fields = dict(part.split("=") for part in line.split()[1:])
                self.smtp_port, self.http_port = int(fields["smtp"]), int(fields["http"])
                threading.Thread(target=self._drain, daemon=True).start()
                return self
        self.kill()
        raise AssertionError("gateway did not start:\n" + "".join(seen))

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        self.output = []
        for line in self.proc.stdout:
            self.output.append(line)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def terminate(self, timeout: float = 30) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)
