"""A SQLite store moved to PostgreSQL with `db export` / `db import`: every contact's
verdict for every purpose is the same before and after, and a forgotten address stays
refused (the erasure key travels with the data)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from gateway.cli.consent import contact_verdicts
from gateway.config import load_config
from gateway.consent.erasure import erasure_key
from gateway.pipeline.decide import Decider
from gateway.startup import load_configured_policies
from gateway.store import open_store
from tests.support.cli import run_cli
from tests.support.config import toml_text

CONTACTS = 10_000
FORGOTTEN = "user3@example3.com"
ROOT = Path(__file__).resolve().parents[2]


def write_contacts(path: Path, count: int) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from gen_contacts import COLUMNS, row  # the benchmark's generator, not a test module
    finally:
        sys.path.pop(0)
    lines = [",".join(COLUMNS)] + [",".join(f'"{v}"' for v in row(n)) for n in range(count)]
    path.write_text("\n".join(lines) + "\n")


def config_file(tmp_path: Path, name: str, url: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(toml_text({"store": {"url": url}}))
    return path


async def all_verdicts(config_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    config = load_config(str(config_path), environ={})
    store = open_store(config.store.url)
    await store.open()
    try:
        decider = Decider(
            store, load_configured_policies(config), config, await erasure_key(store, config)
        )
        addresses = [f"user{n}@example{n % 97}.com" for n in range(CONTACTS)]
        return {
            address: [
                (purpose, topic, v.action, v.reason, v.basis, v.rule)
                for purpose, topic, v in await contact_verdicts(decider, address)
            ]
            for address in addresses
        }
    finally:
        await store.close()


def cli(*args: str) -> str:
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_sqlite_store_moved_to_postgresql(tmp_path: Path, pg_url: str) -> None:
    source = config_file(tmp_path, "source", f"sqlite:///{tmp_path / 'gatekeeper.db'}")
    target = config_file(tmp_path, "target", pg_url)
    contacts = tmp_path / "contacts.csv"
    write_contacts(contacts, CONTACTS)
    cli("--config", str(source), "contacts", "import", str(contacts))
    cli("--config", str(source), "forget", FORGOTTEN)
    before = await all_verdicts(source)
    assert {v[3] for v in before[FORGOTTEN]} == {"erased"}

    export = tmp_path / "store.jsonl.gz"
    cli("--config", str(source), "db", "export", str(export))
    cli("--config", str(target), "db", "migrate")
    cli("--config", str(target), "db", "import", str(export))
    after = await all_verdicts(target)
    assert after == before

    refused = run_cli("--config", str(target), "db", "import", str(export))
    assert refused.returncode == 2 and "--replace" in refused.stderr
