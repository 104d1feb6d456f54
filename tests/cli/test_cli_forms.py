"""The command forms as the README types them, run through the installed `gatekeeper`
console script from another working directory: `--config` before or after any command's
name, `--version`, read-only commands on a missing store, `| head`, missing files, and
`--since` values."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import smtplib
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from gateway.policy import default_policy_dir
from gateway.store import open_store
from gateway.store.records import Decision, WriteBatch
from tests.support.config import toml_text

GATEKEEPER = str(Path(sys.executable).parent / "gatekeeper")
CONTACTS = "email,country,consent_topics,consent_at\nann@example.cz,cz,marketing,2026-01-05\n"


def gatekeeper(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEKEEPER_")}
    return subprocess.run(
        [GATEKEEPER, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def one_line(result: subprocess.CompletedProcess[str], *parts: str) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, Path]:
    """(config file, an unrelated working directory): the config names its store, outbox
    and policies relatively, so only reading that file finds them."""
    etc = tmp_path / "etc"
    etc.mkdir()
    shutil.copytree(default_policy_dir(), etc / "pol")
    config = etc / "gatekeeper.toml"
    config.write_text(
        toml_text(
            {
                "smtp": {"listen": "127.0.0.1:0", "hostname": "gw.example"},
                "http": {"listen": "127.0.0.1:0"},
                "store": {"url": "sqlite:///data/gk.db"},
                "upstream": {"url": "outbox:mail"},
                "policy": {"directory": "pol"},
            }
        )
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    return config, elsewhere


def test_version(tmp_path):
    result = gatekeeper("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"gatekeeper {metadata.version('smtp-gatekeeper')}"


def test_config_before_or_after_every_command(site):
    config, cwd = site
    (cwd / "contacts.csv").write_text(CONTACTS)
    imported = gatekeeper("contacts", "import", "contacts.csv", "--config", str(config), cwd=cwd)
    assert imported.returncode == 0, imported.stderr
    assert (config.parent / "data" / "gk.db").is_file()  # beside the config, not in cwd
    forms = [
        ["policy", "show", "cz", "--config", str(config)],
        ["--config", str(config), "policy", "show", "cz"],
        ["policy", "--config", str(config), "show", "cz"],
        ["contacts", "show", "ann@example.cz", "--config", str(config)],
        ["--config", str(config), "contacts", "show", "ann@example.cz"],
        ["contacts", "proof", "ann@example.cz", "--config", str(config)],
        ["log", "--config", str(config), "--since", "7d"],
        ["stats", "--since", "2025", "--config", str(config)],
        ["queue", "list", "--config", str(config)],
        ["suppress", "list", "--config", str(config)],
        ["policy", "lint", "--config", str(config)],
        # the command's own --config wins over the one before it
        [
            "--config",
            str(cwd / "absent.toml"),
            "contacts",
            "show",
            "ann@example.cz",
            "--config",
            str(config),
        ],
    ]
    for form in forms:
        result = gatekeeper(*form, cwd=cwd)
        assert result.returncode == 0, (form, result.stderr)
    shown = gatekeeper("policy", "show", "cz", "--config", str(config), cwd=cwd).stdout
    assert str(config.parent / "pol" / "cz.toml") in shown
    assert not (cwd / "gatekeeper.db").exists()


@pytest.mark.parametrize("placement", ["after", "before"])
def test_serve_takes_config_after_or_before(site, placement):
    config, cwd = site
    args = ["serve", "--config", str(config)]
    if placement == "before":
        args = ["--config", str(config), "serve"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEKEEPER_")}
    proc = subprocess.Popen(
        [GATEKEEPER, *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        ready = proc.stdout.readline()  # the first stdout line, once listening
        assert ready.startswith("READY"), ready
        port = int(dict(p.split("=") for p in ready.split()[1:])["smtp"])
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            assert client.noop()[0] == 250
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert (config.parent / "data" / "gk.db").is_file()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.mark.parametrize(
    "command",
    [
        ["log"],
        ["stats"],
        ["contacts", "show", "ann@example.cz"],
        ["contacts", "proof", "ann@example.cz"],
        ["queue", "list"],
        ["suppress", "list"],
    ],
)
def test_read_only_commands_never_create_a_store(site, command):
    config, cwd = site
    store = config.parent / "data" / "gk.db"
    result = gatekeeper(*command, "--config", str(config), cwd=cwd)
    one_line(result, f"no store at {store} (run gatekeeper serve or contacts import first)")
    assert not store.exists() and not store.parent.exists()


def decisions_in(store_path: Path, times: list[str]) -> None:
    async def write() -> None:
        store = open_store(f"sqlite:///{store_path}")
        await store.open()
        try:
            rows = [
                Decision(
                    time=t,
                    phase="rcpt",
                    action="allow",
                    recipient=f"r{i}@example.cz",
                    purpose="transactional",
                    rule="eu.transactional.transactional",
                )
                for i, t in enumerate(times)
            ]
            await store.commit(WriteBatch(decisions=rows))
        finally:
            await store.close()

    asyncio.run(write())


def test_since_needs_a_unit_or_a_date(site):
    config, cwd = site
    decisions_in(
        config.parent / "data" / "gk.db", ["2024-06-01T00:00:00.000Z", "2025-03-01T00:00:00.000Z"]
    )

    def recipients(*since: str) -> list[str]:
        result = gatekeeper("log", "--format", "json", *since, "--config", str(config), cwd=cwd)
        assert result.returncode == 0, result.stderr
        return [
            line.split('"recipient": "')[1].split('"')[0] for line in result.stdout.splitlines()
        ]

    assert recipients("--since", "2025") == ["r1@example.cz"]  # the year, not 2025 seconds
    assert recipients("--since", "2025-01-01") == ["r1@example.cz"]
    assert recipients("--since", "2024-05") == ["r0@example.cz", "r1@example.cz"]
    assert recipients("--since", "2h") == []
    assert recipients("--until", "2025-01-01T00:00Z") == ["r0@example.cz"]
    for bad in ("2025x", "5 days", "1.5w"):
        one_line(
            gatekeeper("log", "--since", bad, "--config", str(config), cwd=cwd),
            f"--since {bad!r}",
            "with a unit",
        )
    one_line(
        gatekeeper("stats", "--since", "yesterday", "--config", str(config), cwd=cwd),
        "--since 'yesterday'",
    )


@pytest.mark.parametrize("command", ["log", "suppress list"])
def test_output_into_head_is_quiet(site, command):
    """`gatekeeper log | head -1`: the reader leaves early; no traceback, exit 141 (SIGPIPE's
    status) under pipefail, as any Unix tool killed by SIGPIPE."""
    config, cwd = site
    store = config.parent / "data" / "gk.db"
    decisions_in(store, [f"2026-01-01T00:00:{i % 60:02d}.000Z" for i in range(3000)])
    rows = "".join(f"user{i}@example.org,all,complaint\n" for i in range(3000))
    (cwd / "s.csv").write_text("email,scope,reason\n" + rows)
    assert (
        gatekeeper("suppress", "import", "s.csv", "--config", str(config), cwd=cwd).returncode == 0
    )
    script = f'set -o pipefail; "{GATEKEEPER}" {command} --config "{config}" 2>err.txt | head -1'
    result = subprocess.run(
        ["bash", "-c", script], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    assert len(result.stdout.splitlines()) == 1
    assert (cwd / "err.txt").read_text() == ""
    assert result.returncode == 141


def test_missing_and_unreadable_files(site):
    config, cwd = site
    one_line(
        gatekeeper("contacts", "import", "nowhere.csv", "--config", str(config), cwd=cwd),
        "no such file or directory",
        "nowhere.csv",
    )
    one_line(
        gatekeeper("suppress", "import", "nowhere.csv", "--config", str(config), cwd=cwd),
        "nowhere.csv",
    )
    one_line(
        gatekeeper(
            "check", "nowhere.eml", "--to", "a@example.cz", "--config", str(config), cwd=cwd
        ),
        "nowhere.eml",
    )
    (cwd / "folder.csv").mkdir()
    one_line(
        gatekeeper("contacts", "import", "folder.csv", "--config", str(config), cwd=cwd),
        "folder.csv",
    )
    one_line(
        gatekeeper("--config", str(cwd / "absent.toml"), "log", cwd=cwd), "absent.toml", "not found"
    )


def test_readme_forms_with_gatekeeper_toml_in_the_working_directory(tmp_path):
    """The README's lines verbatim: no --config, ./gatekeeper.toml is read."""
    (tmp_path / "gatekeeper.toml").write_text('[store]\nurl = "sqlite:///gk.db"\n')
    (tmp_path / "contacts.csv").write_text(
        "email,country,consent_topics,consent_at\nalice@example.cz,cz,marketing,2026-01-05\n"
    )
    (tmp_path / "message.eml").write_text("From: a@shop.example\nSubject: Receipt\n\nPaid.\n")
    one_line(gatekeeper("log", cwd=tmp_path), f"no store at {tmp_path / 'gk.db'}")
    readme = [
        "gatekeeper contacts import contacts.csv",
        "gatekeeper contacts show alice@example.cz",
        "gatekeeper suppress add bob@example.pl --scope marketing --reason objected",
        "gatekeeper log",
        "gatekeeper stats --since 7d",
        "gatekeeper queue list",
        "gatekeeper policy show cz",
        "gatekeeper contacts proof alice@example.cz",
    ]
    for line in readme:
        result = gatekeeper(*line.split()[1:], cwd=tmp_path)
        assert result.returncode == 0, (line, result.stderr)
    check = gatekeeper("check", "message.eml", "--to", "alice@example.cz", cwd=tmp_path)
    assert check.returncode in (0, 1) and "Traceback" not in check.stderr
    assert "alice@example.cz:" in check.stdout
