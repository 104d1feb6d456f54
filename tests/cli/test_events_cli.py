"""`gatekeeper events list|retry` (docs/design.md §9) on a store holding events."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.store import open_store
from gateway.store.records import OutboundEvent, WriteBatch, iso_now
from tests.support.cli import run_cli
from tests.support.config import toml_text


def outbox(url: str) -> None:
    async def fill() -> None:
        store = open_store(url)
        await store.open()
        try:
            await store.commit(
                WriteBatch(
                    events=[
                        OutboundEvent(
                            f"msg_{status}",
                            iso_now(),
                            "http://127.0.0.1:9/events",
                            "refused",
                            "{}",
                            status=status,
                            attempts=3,
                            next_attempt=1e12,
                            last_error="HTTP 503" if status != "delivered" else "",
                        )
                        for status in ("pending", "failed", "delivered")
                    ]
                )
            )
        finally:
            await store.close()

    asyncio.run(fill())


def test_list_and_retry(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gk.db'}"
    config = tmp_path / "gatekeeper.toml"
    config.write_text(toml_text({"store": {"url": url}}))
    outbox(url)
    listed = run_cli("--config", str(config), "events", "list", "--status", "failed")
    assert listed.returncode == 0, listed.stderr
    assert "msg_failed" in listed.stdout and "HTTP 503" in listed.stdout
    assert "msg_pending" not in listed.stdout and "1 event(s)" in listed.stdout
    retried = run_cli("--config", str(config), "events", "retry")
    assert retried.returncode == 0 and "2 event(s) due now" in retried.stdout
    after = run_cli("--config", str(config), "events", "list", "--status", "pending")
    assert "msg_failed" in after.stdout and "msg_pending" in after.stdout
    assert "due now" in after.stdout


def test_list_without_a_store_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "gatekeeper.toml"
    config.write_text(toml_text({"store": {"url": f"sqlite:///{tmp_path / 'none.db'}"}}))
    result = run_cli("--config", str(config), "events", "list")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
