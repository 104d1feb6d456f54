"""Start-up faults as an operator meets them: `gatekeeper serve --config FILE` as a real
process exits non-zero with one line `gatekeeper: <cause> (<where>)` on stderr, no traceback,
and does not hang (the subprocess timeout of 10 s fails the test, no timing assertion).

The tests run as root in CI, and root ignores file permissions. The permission cases
therefore run the gateway as `nobody` (setpriv) when the test runs as root; one case uses
the immutable flag (chattr +i), which stops root too. Paths under a regular file fail for
anyone.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from gateway import app
from gateway.config import load_config
from gateway.startup import StartupError, too_broad
from tests.support.config import make_config, toml_text
from tests.support.servers import free_port

GATEKEEPER = str(Path(sys.executable).parent / "gatekeeper")
SETPRIV = shutil.which("setpriv")
IS_ROOT = os.geteuid() == 0


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("GATEKEEPER_")}


def serve(config: Path, *, unprivileged: bool = False) -> subprocess.CompletedProcess[str]:
    """`gatekeeper serve --config FILE` as the README types it; as `nobody` when asked and
    the test runs as root (so that permissions apply)."""
    argv = [GATEKEEPER, "serve", "--config", str(config)]
    if unprivileged and IS_ROOT:
        if SETPRIV is None:
            pytest.skip("needs setpriv to drop root")
        argv = [SETPRIV, "--reuid=nobody", "--regid=nogroup", "--clear-groups", *argv]
    return subprocess.run(
        argv, cwd=config.parent, capture_output=True, text=True, timeout=10, env=env()
    )


def one_line(result: subprocess.CompletedProcess[str], *parts: str) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("gatekeeper: "), line
    for part in parts:
        assert part in line, line
    return line


@pytest.fixture
def world() -> Iterator[Path]:
    """A directory `nobody` can reach (pytest's tmp_path is root's, mode 0700)."""
    path = Path(tempfile.mkdtemp(prefix="gk-startup-"))
    path.chmod(0o755)
    yield path
    for item in path.rglob("*"):
        if item.is_file():
            subprocess.run(["chattr", "-i", str(item)], capture_output=True)
    for item in [path, *path.rglob("*")]:
        if item.is_dir():
            item.chmod(0o755)
    shutil.rmtree(path)


def config_file(directory: Path, **sections: Mapping[str, object]) -> Path:
    base: dict[str, dict[str, object]] = {
        "smtp": {"listen": "127.0.0.1:0", "hostname": "gw.example"},
        "http": {"listen": "127.0.0.1:0"},
        "store": {"url": f"sqlite:///{directory / 'gk.db'}"},
        "upstream": {"url": f"outbox:{directory / 'outbox'}"},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    (directory / "outbox").mkdir(exist_ok=True)
    (directory / "outbox").chmod(0o777)
    path = directory / "gatekeeper.toml"
    path.write_text(toml_text(base))
    path.chmod(0o644)
    return path


@pytest.fixture
def bound_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


@pytest.mark.parametrize("section", ["smtp", "http"])
def test_port_in_use(world, bound_port, section):
    config = config_file(world, **{section: {"listen": f"127.0.0.1:{bound_port}"}})
    one_line(serve(config), "address already in use", f"(127.0.0.1:{bound_port})", section.upper())


def test_store_under_a_regular_file(world):
    (world / "plain").write_text("not a directory")
    config = config_file(world, store={"url": f"sqlite:///{world / 'plain' / 'gk.db'}"})
    one_line(serve(config), "is a file, not a directory", str(world / "plain"))


def test_store_in_a_read_only_directory(world):
    data = world / "data"
    data.mkdir()
    config = config_file(world, store={"url": f"sqlite:///{data / 'gk.db'}"})
    data.chmod(0o555)
    one_line(serve(config, unprivileged=True), "store directory is read-only", str(data))


def test_existing_store_in_a_read_only_directory(world):
    """SQLite (WAL) must create gk.db-wal beside the file: a writable file is not enough."""
    data = world / "data"
    data.mkdir()
    (data / "gk.db").touch()
    (data / "gk.db").chmod(0o666)
    config = config_file(world, store={"url": f"sqlite:///{data / 'gk.db'}"})
    data.chmod(0o555)
    one_line(serve(config, unprivileged=True), "store directory is read-only", str(data))


def test_read_only_store_file(world):
    data = world / "data"
    data.mkdir(mode=0o777)
    data.chmod(0o777)
    (data / "gk.db").touch()
    (data / "gk.db").chmod(0o444)
    config = config_file(world, store={"url": f"sqlite:///{data / 'gk.db'}"})
    one_line(serve(config, unprivileged=True), "store file is read-only", str(data / "gk.db"))


def test_unwritable_outbox(world):
    config = config_file(world, upstream={"url": "outbox:mail"})
    line = one_line(serve(config, unprivileged=True), "outbox directory cannot be made")
    assert str(world / "mail") in line


def test_missing_directory_that_cannot_be_made(world):
    config = config_file(world, store={"url": f"sqlite:///{world / 'missing' / 'gk.db'}"})
    line = one_line(serve(config, unprivileged=True), "store directory cannot be made")
    assert str(world / "missing") in line


def test_immutable_store_file_stops_root_too(world):
    store = world / "gk.db"
    store.touch()
    if subprocess.run(["chattr", "+i", str(store)], capture_output=True).returncode != 0:
        pytest.skip("this file system has no immutable flag")
    one_line(serve(config_file(world)), "store file is read-only", str(store))


def test_a_file_that_is_not_a_database(world):
    (world / "gk.db").write_bytes(b"this is not an SQLite file, " * 100)
    one_line(serve(config_file(world)), "cannot open the store", str(world / "gk.db"))


def test_bad_tls_files(world):
    (world / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\nnonsense\n")
    (world / "key.pem").write_text("nonsense\n")
    config = config_file(world, smtp={"tls_cert": "cert.pem", "tls_key": "key.pem"})
    one_line(serve(config), "bad TLS certificate or key", str(world / "cert.pem"))


def test_missing_tls_file(world):
    config = config_file(world, smtp={"tls_cert": "nowhere.pem", "tls_key": "nowhere.key"})
    one_line(serve(config), "cannot read the TLS certificate or key", str(world / "nowhere.pem"))


def test_policy_error_is_one_line_with_file_and_key(world):
    policies = world / "policies"
    policies.mkdir()
    (policies / "eu.toml").write_text('name = "EU"\n[marketing]\nbogus_key = 1\n')
    (policies / "cz.toml").write_text('name = "CZ"\nextends = "eu"\nalso_bogus = true\n')
    line = one_line(serve(config_file(world, policy={"directory": "policies"})))
    assert str(policies) in line


def test_bad_config_is_one_line(world):
    config = config_file(world, smtp={"lisen": "127.0.0.1:25"})
    one_line(serve(config), "unknown key 'smtp.lisen'", str(config))


@pytest.mark.parametrize("failing", ["smtp", "http"])
async def test_a_failed_start_stops_what_it_started(tmp_path, upstream, bound_port, failing):
    """SMTP or HTTP cannot listen: store, writer, delivery (and the SMTP listener, when HTTP
    fails) were already running; all are stopped, so nothing keeps the process alive."""
    smtp_port = free_port()
    listen = {"smtp": {"listen": f"127.0.0.1:{smtp_port}"}}
    listen[failing] = {"listen": f"127.0.0.1:{bound_port}"}
    config = make_config(tmp_path, upstream.url, **listen)
    with pytest.raises(StartupError, match=f"cannot listen for {failing.upper()}"):
        await app.start(config)
    assert asyncio.all_tasks() == {asyncio.current_task()}
    # SQLite removes the -wal file when the last connection closes: the store is closed.
    assert (tmp_path / "gatekeeper.db").exists()
    assert not (tmp_path / "gatekeeper.db-wal").exists()
    if failing == "http":  # the SMTP listener let its port go
        with socket.socket() as again:
            again.bind(("127.0.0.1", smtp_port))


async def test_unsubscribe_defaults_that_would_break_are_warned_about(
    tmp_path, upstream, gateway_factory, caplog
):
    gateway = await gateway_factory(
        upstream.url,
        smtp={"hostname": "gw"},
        http={"public_url": ""},
        unsubscribe={"secret": ["s3cret-for-tests"]},
    )
    assert gateway.config.http.public_url.startswith("http://127.0.0.1:")
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("is loopback" in w for w in warnings), warnings
    assert any("needs https" in w for w in warnings), warnings
    assert any("'gw' has no dot" in w for w in warnings), warnings


def test_public_url_defaults_from_http_listen(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no ./gatekeeper.toml
    monkeypatch.delenv("GATEKEEPER_CONFIG", raising=False)
    (tmp_path / "a.toml").write_text('[http]\nlisten = "[::1]:8080"\n')
    assert load_config(str(tmp_path / "a.toml"), environ={}).http.public_url == (
        "http://[::1]:8080"
    )
    moved = load_config(None, environ={"GATEKEEPER_HTTP__LISTEN": "127.0.0.1:9000"})
    assert moved.http.public_url == "http://127.0.0.1:9000"
    kept = {"GATEKEEPER_HTTP__PUBLIC_URL": "https://gk.example"}
    assert load_config(None, environ=kept).http.public_url == "https://gk.example"


@pytest.mark.parametrize("network", ["0.0.0.0/0", "::/0", "0.0.0.0/7", "::ffff:0:0/96"])
def test_allow_networks_of_the_whole_internet_is_refused(world, network):
    config = config_file(world, smtp={"allow_networks": ["10.0.0.0/8", network]})
    one_line(
        serve(config),
        f"smtp.allow_networks {network} lets any host on the Internet relay",
        "smtp.i_know_this_is_an_open_relay = true",
        str(config),
    )


def test_auth_without_tls_beyond_loopback_is_refused(world):
    smtp = {"listen": "0.0.0.0:0", "allow_networks": ["10.0.0.0/8"], "auth_require_tls": False}
    config = config_file(world, smtp=smtp)
    one_line(serve(config), "smtp.auth_require_tls = false on 0.0.0.0:0", "passwords in clear")


@pytest.mark.parametrize(
    ("network", "broad"),
    [
        ("10.0.0.0/8", False),
        ("8.0.0.0/8", False),  # one public /8 is one allocation: allowed
        ("128.0.0.0/1", True),
        ("fc00::/7", False),  # private, however broad
        ("2a00::/32", False),
        ("2a00::/31", True),
        ("::ffff:10.0.0.0/104", False),
        ("::ffff:8.0.0.0/100", True),
    ],
)
def test_which_networks_are_too_broad(network, broad):
    assert too_broad(network) is broad


async def test_the_explicit_key_starts_an_open_relay_with_warnings(
    tmp_path, upstream, gateway_factory, caplog
):
    await gateway_factory(
        upstream.url,
        smtp={"allow_networks": ["0.0.0.0/0"], "i_know_this_is_an_open_relay": True},
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("0.0.0.0/0 lets any host" in w and "started anyway" in w for w in warnings)


def test_tls_listen_needs_a_certificate(world):
    config = config_file(world, smtp={"tls_listen": "127.0.0.1:0"})
    one_line(serve(config), "smtp.tls_listen needs smtp.tls_cert and smtp.tls_key", str(config))
