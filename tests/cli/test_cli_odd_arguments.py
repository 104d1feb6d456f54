"""Arguments a command cannot take, each one line naming it and exit status 2: bytes that
are not UTF-8 (Python carries them as lone surrogates, PEP 383), where it was the codec's
own message; a time outside datetime's years 1 to 9999, where it was `OverflowError`; a
CSV field holding NUL, which PostgreSQL's text cannot hold (the import failed naming no
line there, and SQLite stored it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

GATEKEEPER = str(Path(sys.executable).parent / "gatekeeper")


@pytest.mark.parametrize(
    "command",
    [
        [b"log", b"--recipient", b"a\xffb@example.com"],
        [b"senders", b"resume", b"a\xffb.example.com"],
    ],
)
def test_an_argument_that_is_not_utf8_is_named_in_one_line(tmp_path, command):
    result = run_in_store(tmp_path, command)
    assert result.returncode == 2
    last = result.stderr.decode().splitlines()[-1]
    assert last.startswith("gatekeeper: '") and "\\xff" in last and "not valid UTF-8" in last
    assert "Traceback" not in result.stderr.decode()


@pytest.mark.parametrize(
    ("command", "status", "said"),
    [
        ([b"log", b"--since", b"1000000d"], 2, "gatekeeper: --since '1000000d': reaches back"),
        (
            [b"stats", b"--since", b"9999-12-31T23:59:59-12:00"],
            2,
            "gatekeeper: --since '9999-12-31T23:59:59-12:00': out of range",
        ),
        (  # status 1, as for any bad row of an import
            [b"contacts", b"import", b"far.csv"],
            1,
            "gatekeeper: far.csv: line 2: last_engaged_at '9999-12-31T23:59:59-12:00' is out",
        ),
    ],
)
def test_a_time_out_of_range_is_named_in_one_line(tmp_path, command, status, said):
    (tmp_path / "far.csv").write_text(
        "email,last_engaged_at\nbob@example.cz,9999-12-31T23:59:59-12:00\n"
    )
    result = run_in_store(tmp_path, command)
    assert result.returncode == status
    assert result.stderr.decode().splitlines()[-1].startswith(said), result.stderr


def test_a_csv_field_holding_nul_is_named_with_its_line(tmp_path):
    (tmp_path / "nul.csv").write_bytes(
        b"email,consent_topics,consent_at,consent_proof\n"
        b"bob@example.cz,news,2026-01-01,signed\x00up\n"
    )
    result = run_in_store(tmp_path, [b"contacts", b"import", b"nul.csv"])
    assert result.returncode == 1
    said = "gatekeeper: nul.csv: line 2: consent_proof holds NUL (\\x00)"
    assert result.stderr.decode().splitlines()[-1].startswith(said), result.stderr


def run_in_store(tmp_path: Path, command: list[bytes]) -> subprocess.CompletedProcess[bytes]:
    """The command in a folder whose store exists (one contact imported)."""
    (tmp_path / "c.csv").write_text("email\nann@example.cz\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEKEEPER_")}
    made = subprocess.run(
        [GATEKEEPER, "contacts", "import", "c.csv"], cwd=tmp_path, env=env, timeout=60
    )
    assert made.returncode == 0
    return subprocess.run(
        [GATEKEEPER.encode(), *command], cwd=tmp_path, capture_output=True, timeout=60, env=env
    )
