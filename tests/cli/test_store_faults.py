"""A store file that is not a database: every command that opens it ends promptly with one
line on stderr. The aiosqlite connection whose first statement failed must be closed, or its
(non-daemon) thread keeps the process alive after the message; the subprocess timeout fails
the test then, no timing assertion."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

GATEKEEPER = str(Path(sys.executable).parent / "gatekeeper")


@pytest.mark.parametrize(
    "command",
    [["log"], ["queue", "list"], ["contacts", "import", "c.csv"], ["suppress", "add", "a@b.cz"]],
)
def test_a_file_that_is_not_a_database(tmp_path, command):
    (tmp_path / "gk.db").write_bytes(b"this is not an SQLite file, " * 100)
    (tmp_path / "gatekeeper.toml").write_text('[store]\nurl = "sqlite:///gk.db"\n')
    (tmp_path / "c.csv").write_text("email\nann@example.cz\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEKEEPER_")}
    result = subprocess.run(
        [GATEKEEPER, *command], cwd=tmp_path, capture_output=True, text=True, timeout=20, env=env
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("gatekeeper: ") and "not a database" in line, line
