"""Several gateway instances on one store: their configs, a raw RCPT probe, a silent upstream,
and a private PostgreSQL cluster a test may restart without disturbing anyone else's."""

from __future__ import annotations

import glob
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.support.config import gateway_sections, toml_text
from tests.support.servers import free_port
from tests.support.smtp import dialogue


def instance_config(
    tmp_path: Path, name: str, store_url: str, upstream_url: str, **overrides: Any
) -> Path:
    """A config of its own for instance `name` (store.instance), listening on free ports."""
    home = tmp_path / name
    home.mkdir(exist_ok=True)
    sections = gateway_sections(home, upstream_url, **overrides)
    sections["store"].update({"url": store_url, "instance": name})
    # One process each: these tests name the instance that decided or holds a message
    # (an SMTP worker process's rows say `NAME/wN`, tests/app/test_processes.py).
    sections["smtp"].setdefault("processes", 1)
    path = home / f"{name}.toml"
    path.write_text(toml_text(sections))
    return path


def rcpt_reply(port: int, sender: str, recipient: str) -> bytes:
    """The reply to RCPT TO after EHLO and MAIL FROM (decided there when a stream names the
    purpose)."""
    replies = dialogue(
        port,
        [b"EHLO fleet.test", f"MAIL FROM:<{sender}>".encode(), f"RCPT TO:<{recipient}>".encode()],
    )
    return replies[3]


class SilentUpstream:
    """Takes TCP connections (the kernel's backlog) and never says a word: a delivery to it
    hangs until the upstream timeout, holding its message."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.url = f"smtp://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        self.sock.close()


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own on a free port, run as the postgres user
    (initdb refuses root), in a directory that user owns; stopped and removed by `stop`."""

    def __init__(self) -> None:
        [bindir] = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1:]
        self.bin = Path(bindir)
        self.dir = Path(tempfile.mkdtemp(prefix="gk-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self) -> PrivatePostgres:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self._pg_ctl("start")
        return self

    def _pg_ctl(self, action: str, *more: str) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "log"),
            "-o",
            options,
            "-w",
            action,
            *more,
        )

    def restart(self) -> None:
        self._pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        try:
            self._pg_ctl("stop", "-m", "immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
