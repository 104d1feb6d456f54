"""Real servers on loopback: a capturing upstream SMTP server and the gateway itself."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from gateway import app
from gateway.config import Config, load_config

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
# Offline and quiet: no sandbox in containers, no update or sync traffic during tests.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


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


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream().start()
    yield server
    server.stop()


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(value)


def toml_text(sections: dict[str, Any]) -> str:
    """Enough TOML for test configs: tables of scalars, and arrays of tables."""
    lines: list[str] = []
    for name, body in sections.items():
        if isinstance(body, list):
            for item in body:
                lines.append(f"[[{name}]]")
                lines += [f"{k} = {toml_value(v)}" for k, v in item.items()]
            continue
        lines.append(f"[{name}]")
        lines += [
            f"{k} = {toml_value(v)}"
            for k, v in body.items()
            if not isinstance(v, list) or not v or not isinstance(v[0], dict)
        ]
        for key, value in body.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                for item in value:
                    lines.append(f"[[{name}.{key}]]")
                    lines += [f"{k} = {toml_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


def gateway_sections(tmp_path: Path, upstream_url: str, **overrides: dict[str, Any]) -> dict:
    sections: dict[str, Any] = {
        "smtp": {"listen": "127.0.0.1:0", "hostname": "gw.test"},
        "http": {"listen": "127.0.0.1:0", "public_url": "http://127.0.0.1"},
        "store": {"url": f"sqlite:///{tmp_path / 'gatekeeper.db'}"},
        "upstream": {"url": upstream_url, "connections": 4},
        "delivery": {"retry_initial": 0.5, "retry_max": 2.0},
        # the relay tests' sender is a transactional stream: consent is not their subject
        "streams": [{"sender": "app@example.com", "purpose": "transactional"}],
    }
    for name, values in overrides.items():
        if isinstance(values, list):
            sections[name] = values
        else:
            sections.setdefault(name, {}).update(values)
    return sections


def write_config(tmp_path: Path, sections: dict[str, Any]) -> Path:
    path = tmp_path / "gatekeeper.toml"
    path.write_text(toml_text(sections))
    return path


def make_config(tmp_path: Path, upstream_url: str, **overrides: dict[str, Any]) -> Config:
    path = write_config(tmp_path, gateway_sections(tmp_path, upstream_url, **overrides))
    return load_config(str(path), environ={})


@pytest.fixture
async def gateway_factory(tmp_path: Path) -> AsyncIterator[Any]:
    started: list[app.Gateway] = []

    async def make(upstream_url: str, **overrides: dict[str, Any]) -> app.Gateway:
        gw = await app.start(make_config(tmp_path, upstream_url, **overrides))
        started.append(gw)
        return gw

    yield make
    for gw in started:
        await app.stop(gw)


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


@pytest.fixture
def process_factory(tmp_path: Path) -> Iterator[Any]:
    procs: list[GatewayProcess] = []

    def make(config: Path) -> GatewayProcess:
        proc = GatewayProcess(config, tmp_path)
        procs.append(proc)
        return proc

    yield make
    for proc in procs:
        proc.kill()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """Debian's chromium driven by Playwright (never a browser Playwright downloads)."""
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


def run_cli(
    *args: str, cwd: Path | None = None, input: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEKEEPER_")}
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
        env=env,
    )


async def wait_until(predicate: Any, timeout: float = 20.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(interval)
    raise AssertionError("condition not met in time")
