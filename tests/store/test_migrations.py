"""Schema migrations: applied once, kept on reopening, one at a time across instances."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg
import pytest

from gateway.store import Store, open_store
from gateway.store.records import (
    SuppressionEntry,
)
from gateway.store.schema import MIGRATIONS
from tests.store.engines import PG_SERVER, create_database, database_url, drop_database


async def test_opening_again_keeps_schema_and_data(store: Store) -> None:
    await store.suppress([SuppressionEntry("a@example.org", "all", "complaint")])
    again = open_store(store.url)
    await again.open()
    try:
        assert [e.address for e in await again.suppressions()] == ["a@example.org"]
    finally:
        await again.close()


@pytest.mark.usefixtures("pg_url")
async def test_instances_starting_together_migrate_once() -> None:
    name = f"gk_test_{secrets.token_hex(6)}"
    await create_database(name)
    url = database_url(PG_SERVER, name)
    stores = [open_store(url) for _ in range(3)]
    try:
        await asyncio.gather(*(s.open() for s in stores))
        conn = await asyncpg.connect(url)
        versions = [r[0] for r in await conn.fetch("SELECT version FROM schema_version")]
        await conn.close()
        assert sorted(versions) == list(range(1, len(MIGRATIONS) + 1))
    finally:
        await asyncio.gather(*(s.close() for s in stores))
        await drop_database(name)
