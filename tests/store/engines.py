"""Databases for the store tests: a SQLite file, or a PostgreSQL database of its own created
on the server at $GATEKEEPER_TEST_PG_URL (tests skip when that server cannot be reached)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator

import asyncpg
import pytest

PG_SERVER = os.environ.get(
    "GATEKEEPER_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TABLES = (
    "spool_message",
    "spool_recipient",
    "decision",
    "contact",
    "consent",
    "consent_event",
    "relationship",
    "suppression",
    "meta",
    "instance",
    "event",
    "hook_seen",
    "chain_anchor",
)


def database_url(server: str, name: str) -> str:
    return server.rsplit("/", 1)[0] + "/" + name


async def run_on_server(sql: str) -> None:
    conn = await asyncpg.connect(PG_SERVER, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_database(name: str) -> None:
    await run_on_server(f'CREATE DATABASE "{name}"')


async def drop_database(name: str) -> None:
    # FORCE: a test that failed half-way may have left a pool connected
    await run_on_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_database() -> Iterator[str]:
    """URL of a new database on the test server, dropped afterwards; skips when unreachable."""
    name = f"gk_test_{secrets.token_hex(6)}"
    try:
        asyncio.run(create_database(name))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        pytest.skip(f"PostgreSQL at {PG_SERVER} is not usable ({exc}); set GATEKEEPER_TEST_PG_URL")
    yield database_url(PG_SERVER, name)
    asyncio.run(drop_database(name))


async def empty_tables(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")
    finally:
        await conn.close()
