"""docker/Dockerfile and docker/compose.yaml as written: no Docker engine here, so the files are
parsed and the image's CMD is run, with the compose file's environment (adapted to loopback,
ephemeral ports and a database of its own), against the wheel installed in a fresh venv."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import smtplib
import subprocess
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

from tests.support.packaging import ROOT, Served, clean_env, installed_bin
from tests.support.servers import Upstream

pytestmark = pytest.mark.packaging

DOCKER = ROOT / "docker"
CMD = ["gatekeeper", "serve", "--config", "/etc/gatekeeper/gatekeeper.toml"]
PG_SERVER = os.environ.get(
    "GATEKEEPER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined."""
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def compose() -> dict[str, Any]:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_dockerfile_runs_serve_with_the_config_and_the_packaged_policies() -> None:
    steps = dockerfile()
    cmds = [json.loads(args) for op, args in steps if op == "CMD"]
    assert cmds == [CMD]
    assert not any("POLICY__DIRECTORY" in args for op, args in steps if op == "ENV")
    for op, args in steps:
        if op == "COPY":
            for source in args.split()[:-1]:
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    assert any(op == "USER" and args != "root" for op, args in steps)


def test_compose_wires_gateway_postgres_and_mailpit_with_healthchecks() -> None:
    services = compose()["services"]
    instances = {"gatekeeper-a", "gatekeeper-b"}
    assert set(services) == {*instances, "haproxy", "postgres", "mailpit"}
    assert all("healthcheck" in s for name, s in services.items() if name != "haproxy")
    assert services["mailpit"]["image"].startswith("axllent/mailpit")
    # two instances on one database, each under its own name (docs/fleet.md)
    envs = [services[name]["environment"] for name in sorted(instances)]
    assert len({e["GATEKEEPER_STORE__URL"] for e in envs}) == 1
    assert [e["GATEKEEPER_STORE__INSTANCE"] for e in envs] == ["a", "b"]
    haproxy = compose()["configs"]["haproxy"]["content"]
    assert "option httpchk GET /readyz" in haproxy
    gw = services["gatekeeper-a"]
    assert {name: dep["condition"] for name, dep in gw["depends_on"].items()} == {
        "postgres": "service_healthy",
        "mailpit": "service_healthy",
    }
    env = gw["environment"]
    assert env["GATEKEEPER_UPSTREAM__URL"] == "smtp://mailpit:1025"
    pg = services["postgres"]["environment"]
    assert env["GATEKEEPER_STORE__URL"] == (
        f"postgresql://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}"
        f"@postgres:5432/{pg['POSTGRES_DB']}"
    )
    # inside the container network the listeners must not be loopback
    assert env["GATEKEEPER_SMTP__LISTEN"].startswith("0.0.0.0:")
    assert env["GATEKEEPER_HTTP__LISTEN"].startswith("0.0.0.0:")
    assert any(v.endswith(":" + CMD[-1] + ":ro") for v in gw["volumes"])
    published = [p for s in services.values() for p in s.get("ports", [])]
    assert published and all(p.startswith("127.0.0.1:") for p in published)


async def _on_server(sql: str) -> None:
    conn = await asyncpg.connect(PG_SERVER, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh database standing in for the compose file's postgres service."""
    name = f"gk_docker_{secrets.token_hex(6)}"
    try:
        asyncio.run(_on_server(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        pytest.skip(f"no PostgreSQL at {PG_SERVER}: {exc}")
    yield PG_SERVER.rsplit("/", 1)[0] + "/" + name
    asyncio.run(_on_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def adapted_env(environment: dict[str, str], upstream: Upstream, store_url: str) -> dict[str, str]:
    """The compose environment with the container network replaced by loopback."""
    env = dict(environment)
    for key in env:
        if key.endswith("__LISTEN"):
            env[key] = "127.0.0.1:0"
    env["GATEKEEPER_UPSTREAM__URL"] = upstream.url
    env["GATEKEEPER_STORE__URL"] = store_url
    # the test client is on loopback, not on the container network
    networks = json.loads(env["GATEKEEPER_SMTP__ALLOW_NETWORKS"])
    env["GATEKEEPER_SMTP__ALLOW_NETWORKS"] = json.dumps([*networks, "127.0.0.0/8"])
    return env


def test_dockerfile_cmd_runs_with_the_compose_environment(
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    upstream: Upstream,
    pg_database: str,
) -> None:
    bin_dir = installed_bin(tmp_path_factory)
    gw = compose()["services"]["gatekeeper-a"]
    mounted = next(v for v in gw["volumes"] if v.split(":")[1] == CMD[-1])
    config = tmp_path / "gatekeeper.toml"
    shutil.copy(DOCKER / mounted.split(":")[0], config)
    workdir = tmp_path / "var-lib-gatekeeper"
    workdir.mkdir()
    env = clean_env(**adapted_env(gw["environment"], upstream, pg_database))
    argv = [str(bin_dir / CMD[0]), *CMD[1:-1], str(config)]

    served = Served(argv, workdir, env)
    try:
        health = [
            str(bin_dir / "python") if a == "python" else a for a in gw["healthcheck"]["test"][1:]
        ]
        health = [a.replace("127.0.0.1:8025", f"127.0.0.1:{served.http_port}") for a in health]
        assert subprocess.run(health, timeout=30, env=env).returncode == 0
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "app@example.com", "you@example.org", "compose"
        msg["X-Gatekeeper-Purpose"] = "transactional"
        msg.set_content("through the image's command\n")
        with smtplib.SMTP("127.0.0.1", served.smtp_port, timeout=30) as client:
            assert client.send_message(msg) == {}
        got = upstream.handler.wait_for(1)
    finally:
        served.stop()
    assert (got[0].sender, got[0].recipients) == ("app@example.com", ["you@example.org"])
    assert b"Subject: compose" in got[0].data
