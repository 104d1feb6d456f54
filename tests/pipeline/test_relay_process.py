"""`gatekeeper serve` as a process of its own: killed, stopped, started with no config, or
refused at start-up by the configuration."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.config import gateway_sections, write_config
from tests.support.messages import RECEIPT, send
from tests.support.servers import Upstream, free_port
from tests.support.waiting import wait_until


def test_sigkill_after_250_loses_nothing(tmp_path, process_factory):
    upstream = Upstream(free_port())  # closed while the first process runs
    sections = gateway_sections(tmp_path, upstream.url)
    sections["smtp"]["listen"] = f"127.0.0.1:{free_port()}"
    sections["http"]["listen"] = f"127.0.0.1:{free_port()}"
    config = write_config(tmp_path, sections)
    first = process_factory(config).start()
    count = 25
    for n in range(count):
        send(first.smtp_port, [f"user{n}@example.org"], RECEIPT.replace(b"42", str(n).encode()))
    first.kill()  # SIGKILL: no chance to flush anything
    upstream.start()
    try:
        process_factory(config).start()
        captured = upstream.handler.wait_for(count, 60)
    finally:
        upstream.stop()
    got = {r for m in captured for r in m.recipients}
    assert got == {f"user{n}@example.org" for n in range(count)}


def test_sigterm_exits_cleanly(tmp_path, process_factory, upstream):
    sections = gateway_sections(tmp_path, upstream.url)
    proc = process_factory(write_config(tmp_path, sections)).start()
    send(proc.smtp_port, ["bye@example.org"])
    upstream.handler.wait_for(1)
    assert proc.terminate() == 0


def test_outbox_default_with_no_config(tmp_path, process_factory):
    if _port_busy(2525) or _port_busy(8025):
        pytest.skip("default ports 2525/8025 are taken on this machine")
    proc = process_factory(tmp_path / "none.toml")
    try:
        proc.start(("serve",))
    except AssertionError as exc:  # taken between the check above and the bind
        if "address already in use" in str(exc):
            pytest.skip("default ports 2525/8025 were taken on this machine")
        raise
    send(2525, ["reader@example.org"])

    def files() -> list[Path]:
        return sorted((tmp_path / "outbox").glob("*.eml"))

    asyncio.run(wait_until(files))
    (eml,) = files()
    content = eml.read_bytes()
    assert content.startswith(b"Return-Path: <app@example.com>\r\nDelivered-To: reader@example.org")
    assert content.endswith(RECEIPT)
    assert (tmp_path / "gatekeeper.db").exists()
    assert proc.terminate() == 0
    log = run_cli("log", "--format", "json", cwd=tmp_path)
    rows = [json.loads(line) for line in log.stdout.splitlines()]
    assert [(r["phase"], r["action"], r["purpose"], r["basis"], r["reason"]) for r in rows] == [
        ("data", "allow", "transactional", "transactional", ""),
        ("delivery", "allow", "transactional", "", "delivered"),
    ]
    table = run_cli("log", "--phase", "delivery", cwd=tmp_path).stdout.splitlines()
    assert table[0].split()[:4] == ["TIME", "PHASE", "ACTION", "RECIPIENT"]
    assert "reader@example.org" in table[1] and "delivered" in table[1]
    as_csv = list(
        csv.DictReader(
            io.StringIO(run_cli("log", "--format", "csv", "--since", "1h", cwd=tmp_path).stdout)
        )
    )
    assert [r["phase"] for r in as_csv] == ["data", "delivery"]
    later = run_cli("log", "--format", "json", "--since", "2099-01-01", cwd=tmp_path)
    assert later.returncode == 0 and later.stdout == ""


def _port_busy(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_unknown_config_key_stops_startup(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[smtp]\nlisten = "127.0.0.1:0"\nmax_recipeints = 5\n')
    result = run_cli("--config", str(path), "serve")
    assert result.returncode == 2
    assert "smtp.max_recipeints" in result.stderr and str(path) in result.stderr


def test_open_relay_refused_at_startup(tmp_path):
    path = tmp_path / "open.toml"
    path.write_text('[smtp]\nlisten = "0.0.0.0:0"\n')
    result = run_cli("--config", str(path), "serve")
    assert result.returncode == 2
    assert "open relay" in result.stderr


def test_env_override_is_checked(tmp_path):
    env = {**os.environ, "GATEKEEPER_SMTP__MAX_RECIPIENTS": "many"}
    env.pop("GATEKEEPER_CONFIG", None)
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "queue", "list"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "smtp.max_recipients" in result.stderr
