"""Command output on stdout, logs on stderr, whatever `logging.format` says: a script reading
`gatekeeper log --format json` or `contacts proof` gets only what it asked for, even with
JSON logging on and records being logged (DEBUG: asyncio and aiosqlite log as the command
runs)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.store import open_store
from gateway.store.records import Decision, WriteBatch
from tests.support.config import toml_text

GATEKEEPER = str(Path(sys.executable).parent / "gatekeeper")


def gatekeeper(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEKEEPER_")}
    return subprocess.run(
        [GATEKEEPER, *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=env
    )


@pytest.fixture
def json_logging(tmp_path: Path) -> Path:
    (tmp_path / "gatekeeper.toml").write_text(
        toml_text(
            {
                "store": {"url": "sqlite:///gk.db"},
                "logging": {"format": "json", "level": "DEBUG"},
            }
        )
    )
    return tmp_path


def write_decisions(store_path: Path, count: int) -> None:
    async def write() -> None:
        store = open_store(f"sqlite:///{store_path}")
        await store.open()
        try:
            rows = [
                Decision(
                    time=f"2026-01-01T00:00:{i:02d}.000Z",
                    phase="rcpt",
                    action="allow",
                    recipient=f"r{i}@example.cz",
                    purpose="transactional",
                    rule="eu.transactional.transactional",
                )
                for i in range(count)
            ]
            await store.commit(WriteBatch(decisions=rows))
        finally:
            await store.close()

    asyncio.run(write())


def log_records(stderr: str) -> list[dict[str, str]]:
    records = [json.loads(line) for line in stderr.splitlines()]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records), records
    return records


def test_log_json_stdout_holds_decisions_only(json_logging):
    write_decisions(json_logging / "gk.db", 5)
    result = gatekeeper("log", "--format", "json", cwd=json_logging)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["recipient"] for r in rows] == [f"r{i}@example.cz" for i in range(5)]
    assert all(set(r) >= {"time", "phase", "action", "recipient", "rule"} for r in rows)
    assert log_records(result.stderr), "DEBUG logging wrote no records: the test shows nothing"


def test_contacts_proof_stdout_is_one_json_document(json_logging):
    (json_logging / "c.csv").write_text(
        "email,consent_topics,consent_at\nann@example.cz,news,2026-01-05\n"
    )
    imported = gatekeeper("contacts", "import", "c.csv", cwd=json_logging)
    assert imported.returncode == 0, imported.stderr
    result = gatekeeper("contacts", "proof", "ann@example.cz", cwd=json_logging)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert "ann@example.cz" in json.dumps(document)
    assert log_records(result.stderr)
