"""`gatekeeper log verify` and `gatekeeper log checkpoint` as an operator runs them: real
processes on a real SQLite file whose decision rows a real writer chained."""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.pipeline.writer import Writer
from gateway.store import open_store
from gateway.store.records import DECISION_FIELDS
from tests.store.helpers import decision
from tests.support.cli import run_cli


async def chained_rows(url: str) -> None:
    store = open_store(url)
    await store.open()
    writer = Writer(store)  # no key given: the store's erasure key, as the CLI reads it
    writer.start()
    try:
        rows = [decision(i, recipient=f"r{i}@example.org", detail="") for i in range(1, 6)]
        rows[1].recipient = "bob@example.org"
        rows[1].detail = "550 5.1.1 <bob@example.org>: unknown"
        for row in rows:
            row.instance = "mx1/a"
        writer.record(rows)
        await writer.flush()
    finally:
        await writer.stop()
        await store.close()


@pytest.fixture
def gk(tmp_path: Path):
    db = tmp_path / "gk.db"
    key = Ed25519PrivateKey.generate()
    (tmp_path / "signing.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    (tmp_path / "public.b64").write_text(base64.b64encode(raw).decode())
    config = tmp_path / "gatekeeper.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{db}"\n[log]\nsigning_key_file = "signing.pem"\n')
    asyncio.run(chained_rows(f"sqlite:///{db}"))

    def run(*args: str):
        return run_cli("--config", str(config), *args, cwd=tmp_path)

    run.db = db  # type: ignore[attr-defined]
    return run


def sql(db: Path, statement: str) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(statement)


def test_an_untouched_log_verifies(gk) -> None:
    result = gk("log", "verify")
    assert result.returncode == 0, result.stderr
    assert "mx1/a: 5 rows intact" in result.stdout


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        ("UPDATE decision SET action = 'accept' WHERE seq = 3", "altered: instance mx1/a seq 3"),
        ("DELETE FROM decision WHERE seq = 3", "removed: instance mx1/a seq 4"),
        (
            "INSERT INTO decision (id, time, instance, phase, action, chain_n, chain_prev,"
            " chain_hash) SELECT 'forged', time, instance, phase, action, chain_n, chain_prev,"
            " chain_hash FROM decision WHERE seq = 2",
            "inserted: instance mx1/a seq 6 id forged",
        ),
    ],
)
def test_tampering_is_named(gk, statement: str, named: str) -> None:
    sql(gk.db, statement)
    result = gk("log", "verify")
    assert result.returncode == 1
    assert named in result.stdout


def test_forget_and_purge_keep_the_log_verifiable(gk) -> None:
    assert gk("forget", "BOB@example.org").returncode == 0
    with sqlite3.connect(gk.db) as conn:
        assert "bob" not in str(conn.execute("SELECT * FROM decision").fetchall())
    assert gk("log", "verify").returncode == 0
    assert gk("purge").returncode == 0  # every row is older than retention.decisions_days
    result = gk("log", "verify")
    assert result.returncode == 0, result.stdout
    assert "head at position 5" in result.stdout


def test_a_signed_checkpoint_verifies_with_the_public_key_alone(gk, tmp_path: Path) -> None:
    assert gk("log", "checkpoint", "--out", "cp.json").returncode == 0
    result = gk("log", "verify", "--checkpoint", "cp.json", "--public-key", "public.b64")
    assert result.returncode == 0 and "signature verified" in result.stdout

    # the documented procedure: json and cryptography, nothing of the gateway
    text = (tmp_path / "cp.json").read_text()
    document = json.loads(text)
    body = {k: v for k, v in document.items() if k != "signature"}
    public = Ed25519PublicKey.from_public_bytes(
        base64.b64decode((tmp_path / "public.b64").read_text())
    )
    signed = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    public.verify(base64.b64decode(document["signature"]["value"]), signed.encode())
    assert document["chains"] == [
        {"instance": "mx1/a", "rows": 5, "head": document["chains"][0]["head"]}
    ]

    head = document["chains"][0]["head"]
    (tmp_path / "bad.json").write_text(
        text.replace(head, head[:-1] + "0" if head[-1] != "0" else head[:-1] + "1")
    )
    result = gk("log", "verify", "--checkpoint", "bad.json", "--public-key", "public.b64")
    assert result.returncode == 1 and "NOT VERIFIED" in result.stderr


def test_rows_cut_after_a_checkpoint_are_named(gk) -> None:
    assert gk("log", "checkpoint").returncode == 0
    sql(gk.db, "DELETE FROM decision WHERE seq = 5")
    result = gk("log", "verify")
    assert result.returncode == 1 and "removed: instance mx1/a end of chain" in result.stdout


def test_json_log_keeps_its_contract_fields(gk) -> None:
    result = gk("log", "--format", "json")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 5 and all(list(row) == list(DECISION_FIELDS) for row in rows)
