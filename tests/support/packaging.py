"""The wheel of this checkout, installed into a fresh venv once per test session, and the
`gatekeeper` it installs run as a user would run it (the packaging and Docker tests)."""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 600  # pip fetches the dependencies (from its cache after the first run)
START_TIMEOUT = 30
# What a wheel is built from: the source, not the checkout's venv, caches or old build output
# (an in-tree build/ directory would leak stale modules into the wheel).
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "node_modules",
    "tests", "bench", "artifacts",
)  # fmt: skip

_installed: dict[str, Path] = {}


def _run(argv: list[str], cwd: Path) -> None:
    done = subprocess.run(
        argv, cwd=cwd, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")


def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip wheel` builds from a copy of the working tree."""
    if "wheel" not in _installed:
        base = tmp_path_factory.mktemp("wheel")
        source = base / "source"
        shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
        _run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", "dist", str(source)],
            base,
        )
        _installed["wheel"] = next((base / "dist").glob("*.whl"))
    return _installed["wheel"]


def installed_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a fresh venv holding only the wheel and its dependencies."""
    if "bin" not in _installed:
        wheel = built_wheel(tmp_path_factory)
        venv = wheel.parents[1] / "venv"
        _run([sys.executable, "-m", "venv", str(venv)], wheel.parents[1])
        _run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], wheel.parents[1])
        _installed["bin"] = venv / "bin"
    return _installed["bin"]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without the caller's GATEKEEPER_* settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEKEEPER_")}
    env.pop("VIRTUAL_ENV", None)
    return env | extra


class Served:
    """A `gatekeeper serve` process: started with argv, ready when it prints READY."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.smtp_port, self.http_port = self._ready()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def _ready(self) -> tuple[int, int]:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.output.append(line)
            if line.startswith("READY"):
                fields = dict(part.split("=") for part in line.split()[1:])
                return int(fields["smtp"]), int(fields["http"])
        self.stop()
        raise AssertionError("gatekeeper serve did not start:\n" + "".join(self.output))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def wait_for_files(directory: Path, pattern: str, count: int, timeout: float = 20) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(directory.glob(pattern)) if directory.exists() else []
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{directory}: expected {count} files matching {pattern}")
