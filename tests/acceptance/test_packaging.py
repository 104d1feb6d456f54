"""The wheel is the whole product: built, installed into a fresh venv and run from an empty
directory, it starts, shows a policy and relays mail from the senders cron and frameworks use."""

from __future__ import annotations

import smtplib
import subprocess
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.support.config import toml_text
from tests.support.packaging import (
    ROOT,
    Served,
    built_wheel,
    clean_env,
    installed_bin,
    wait_for_files,
)

pytestmark = pytest.mark.packaging


@pytest.fixture(scope="session")
def gatekeeper_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return installed_bin(tmp_path_factory)


def test_wheel_holds_every_package_and_data_file(tmp_path_factory: pytest.TempPathFactory) -> None:
    names = set(zipfile.ZipFile(built_wheel(tmp_path_factory)).namelist())
    packages = {p.parent for p in (ROOT / "gateway").rglob("__init__.py")}
    modules = {p.relative_to(ROOT).as_posix() for package in packages for p in package.glob("*.py")}
    assert modules <= names, "pyproject.toml [tool.setuptools] packages misses a package"
    policies = {f"gateway/policies/{p.name}" for p in (ROOT / "policies").glob("*.toml")}
    assert policies and policies <= names
    locales = ROOT / "gateway" / "web" / "locales"
    shipped = {p.relative_to(ROOT).as_posix() for p in locales.glob("*.*") if p.suffix != ".py"}
    assert shipped <= names


def message(sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender or "MAILER-DAEMON@localhost"
    msg["To"] = "you@example.org"
    msg["Subject"] = f"from {sender or 'the null sender'}"
    msg["X-Gatekeeper-Purpose"] = "transactional"
    msg.set_content("A message the wheel's gateway relays.\n")
    return msg


def test_installed_wheel_serves_from_an_empty_directory(
    gatekeeper_bin: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    etc = tmp_path / "etc"
    etc.mkdir()
    outbox = tmp_path / "outbox"
    config = etc / "gatekeeper.toml"
    config.write_text(
        toml_text(
            {
                "smtp": {"listen": "127.0.0.1:0", "hostname": "gw.test"},
                "http": {"listen": "127.0.0.1:0"},
                "store": {"url": f"sqlite:///{tmp_path / 'gatekeeper.db'}"},
                "upstream": {"url": f"outbox:{outbox}"},
            }
        )
    )
    gatekeeper = str(gatekeeper_bin / "gatekeeper")

    shown = subprocess.run(
        [gatekeeper, "policy", "show", "cz", "--config", str(config)],
        cwd=empty, capture_output=True, text=True, timeout=60, env=clean_env(),
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "cz." in shown.stdout

    served = Served([gatekeeper, "serve", "--config", str(config)], empty, clean_env())
    try:
        with smtplib.SMTP("127.0.0.1", served.smtp_port, timeout=30) as client:
            for sender in ("root@localhost", ""):
                refused = client.send_message(message(sender), sender, ["you@example.org"])
                assert refused == {}
        delivered = wait_for_files(outbox, "*.eml", 2)
    finally:
        served.stop()
    heads = sorted(p.read_bytes().split(b"\r\n", 1)[0] for p in delivered)
    assert heads == [b"Return-Path: <>", b"Return-Path: <root@localhost>"]
    assert all(b"X-Gatekeeper-Purpose" not in p.read_bytes() for p in delivered)
