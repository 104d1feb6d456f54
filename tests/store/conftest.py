"""The store's contract runs against both engines: every test taking `store` runs once on
SQLite (a temporary file) and once on PostgreSQL (one database per module, emptied per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from gateway.store import Store, open_store
from tests.store.engines import empty_tables, fresh_database


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    yield from fresh_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = open_store(store_url)
    await opened.open()
    if store_url.startswith("postgresql"):
        await empty_tables(store_url)
    yield opened
    await opened.close()
