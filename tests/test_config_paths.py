"""Relative paths in a config file are relative to that file, wherever the command runs;
values from the environment or the defaults stay relative to the working directory."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.config import load_config
from tests.support.config import toml_text


@pytest.fixture(autouse=True)
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("GATEKEEPER_CONFIG", raising=False)
    return cwd


def write(tmp_path: Path, sections: dict[str, object]) -> Path:
    etc = tmp_path / "etc" / "gk"
    etc.mkdir(parents=True)
    path = etc / "gatekeeper.toml"
    path.write_text(toml_text(sections))
    return path


def test_paths_in_the_file_are_relative_to_the_file(tmp_path):
    path = write(
        tmp_path,
        {
            "smtp": {"tls_cert": "tls/cert.pem", "tls_key": "tls/key.pem"},
            "upstream": {"url": "outbox:./outbox", "ca_file": "ca.pem"},
            "store": {"url": "sqlite:///relative.db"},
            "dkim": {"key_file": "dkim.key"},
            "policy": {"directory": "policies"},
        },
    )
    etc = path.parent
    config = load_config(str(path), environ={})
    assert config.store.url == f"sqlite:///{etc / 'relative.db'}"
    assert config.upstream.url == f"outbox:{etc / 'outbox'}"
    assert config.smtp.tls_cert == str(etc / "tls" / "cert.pem")
    assert config.smtp.tls_key == str(etc / "tls" / "key.pem")
    assert config.upstream.ca_file == str(etc / "ca.pem")
    assert config.dkim.key_file == str(etc / "dkim.key")
    assert config.policy.directory == str(etc / "policies")


def test_a_relative_config_path_is_anchored_too(tmp_path, elsewhere):
    path = write(tmp_path, {"store": {"url": "sqlite:///data/gk.db"}})
    relative = os.path.relpath(path, elsewhere)  # ../etc/gk/gatekeeper.toml
    config = load_config(relative, environ={})
    assert config.store.url == f"sqlite:///{path.parent / 'data' / 'gk.db'}"


def test_absolute_paths_and_other_urls_are_kept(tmp_path):
    path = write(
        tmp_path,
        {
            "store": {"url": "sqlite:////var/lib/gk/gk.db"},
            "upstream": {"url": "smtp://mail.example:25"},
            "dkim": {"key_file": "/etc/dkim/key.pem"},
        },
    )
    config = load_config(str(path), environ={})
    assert config.store.url == "sqlite:////var/lib/gk/gk.db"
    assert config.upstream.url == "smtp://mail.example:25"
    assert config.dkim.key_file == "/etc/dkim/key.pem"
    pg = write_pg(tmp_path)
    assert load_config(str(pg), environ={}).store.url == "postgresql://gk@127.0.0.1/gk"


def write_pg(tmp_path: Path) -> Path:
    path = tmp_path / "pg.toml"
    path.write_text('[store]\nurl = "postgresql://gk@127.0.0.1/gk"\n')
    return path


def test_environment_and_defaults_stay_relative_to_the_working_directory(tmp_path):
    path = write(tmp_path, {"store": {"url": "sqlite:///in-file.db"}})
    environ = {
        "GATEKEEPER_STORE__URL": "sqlite:///from-env.db",
        "GATEKEEPER_DKIM__KEY_FILE": "dkim.key",
    }
    config = load_config(str(path), environ=environ)
    assert config.store.url == "sqlite:///from-env.db"
    assert config.dkim.key_file == "dkim.key"
    defaults = load_config(None, environ={})
    assert defaults.source == "defaults"
    assert defaults.store.url == "sqlite:///gatekeeper.db"
    assert defaults.upstream.url == "outbox:./outbox"
