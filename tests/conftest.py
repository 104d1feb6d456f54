"""Fixtures: real servers on loopback (a capturing upstream, the gateway in this process or
as a process of its own) and a real browser. Their plumbing lives in tests/support/."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway import app
from tests.support.cli import run_cli
from tests.support.config import make_config, toml_text
from tests.support.servers import Captured, GatewayProcess, Upstream, free_port

# Still imported from here by tests that have not switched to tests.support yet.
__all__ = ["Captured", "Upstream", "free_port", "make_config", "run_cli", "toml_text"]

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


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream().start()
    yield server
    server.stop()


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
