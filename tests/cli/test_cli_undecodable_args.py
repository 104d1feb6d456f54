"""An argument whose bytes are not UTF-8 (Python carries them as lone surrogates, PEP 383)
is one line naming it, escaped, and exit status 2, where it was the codec's own message."""

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
    (tmp_path / "c.csv").write_text("email\nann@example.cz\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEKEEPER_")}
    made = subprocess.run(
        [GATEKEEPER, "contacts", "import", "c.csv"], cwd=tmp_path, env=env, timeout=60
    )
    assert made.returncode == 0
    result = subprocess.run(
        [GATEKEEPER.encode(), *command], cwd=tmp_path, capture_output=True, timeout=60, env=env
    )
    assert result.returncode == 2
    last = result.stderr.decode().splitlines()[-1]
    assert last.startswith("gatekeeper: '") and "\\xff" in last and "not valid UTF-8" in last
    assert "Traceback" not in result.stderr.decode()
