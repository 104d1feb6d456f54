"""SQLite engine, consent side: contacts, consents and their history, suppressions."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from itertools import islice
from typing import Any

import aiosqlite

from gateway.policy.facts import RecipientFacts
from gateway.store.records import (
    ConsentEvent,
    ContactRow,
    ContactView,
    ImportCounts,
    SuppressionEntry,
    iso_now,
)
from gateway.store.sql import (
    CONTACT_VIEW_QUERIES,
    COUNTED_TABLES,
    DELETE_CONSENT,
    DELETE_EMPTY_MESSAGES,
    ENSURE_CONTACT,
    FACTS_UNION,
    FORGET,
    IMPORT_CHUNK,
    INACTIVE_CONSENTS,
    INSERT_EVENT,
    INSERT_SUPPRESSION,
    META_DEFAULT,
    META_VALUE,
    PURGE_DECISIONS,
    SUPPRESSIONS_OF,
    SUPPRESSIONS_PAGE,
    build_facts,
    consent_state_params,
    contact_view,
    facts_keys,
    forget_params,
    import_batches,
    marks,
    split_facts_union,
    unsuppress_sql,
)


class SqliteConsent:
    _lock: asyncio.Lock

    @property
    def reader(self) -> aiosqlite.Connection:
        raise NotImplementedError

    @property
    def writer(self) -> aiosqlite.Connection:
        raise NotImplementedError

    @property
    def lookup(self) -> sqlite3.Connection:
        raise NotImplementedError

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """The writer connection inside BEGIN IMMEDIATE .. COMMIT (ROLLBACK on any error)."""
        async with self._lock:
            db = self.writer
            await db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            await db.execute("COMMIT")

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        async with self.reader.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def recipient_facts(
        self, addresses: Sequence[str], suppressed_only: Sequence[str] = ()
    ) -> dict[str, RecipientFacts]:
        unique, either = facts_keys(addresses, suppressed_only)
        if not either:
            return {}
        sql = FACTS_UNION.format(marks(len(unique)) if unique else "NULL", marks(len(either)))
        rows = self.lookup.execute(sql, unique * 3 + either).fetchall()
        return build_facts(split_facts_union(rows))

    async def import_contacts(self, rows: Iterable[ContactRow]) -> ImportCounts:
        counts = ImportCounts()
        now = iso_now()
        async with self._transaction() as db:
            before = await _counts(db)
            iterator = iter(rows)
            while chunk := list(islice(iterator, IMPORT_CHUNK)):
                for sql, params in import_batches(chunk, now):
                    await db.executemany(sql, params)
                counts.rows += len(chunk)
            after = await _counts(db)
        counts.contacts_new, counts.consent_events, counts.suppressions = (
            after[table] - before[table] for table in COUNTED_TABLES
        )
        return counts

    async def contact(self, address: str) -> ContactView | None:
        rows = {
            name: await self._rows(sql, (address,)) for name, sql in CONTACT_VIEW_QUERIES.items()
        }
        return contact_view(address, rows, await self.suppressions(address))

    async def record_consent(self, events: Sequence[ConsentEvent]) -> None:
        async with self._transaction() as db:
            for event in events:
                await db.execute(ENSURE_CONTACT, (event.address, event.address,
                                                  event.source or None, event.at))
                await db.execute(INSERT_EVENT, (event.address, event.topic, event.kind,
                                                event.at, event.source, event.proof))
                state = consent_state_params(event)
                if state is not None:
                    await db.execute(*state)

    async def suppress(self, entries: Sequence[SuppressionEntry]) -> int:
        async with self._lock:
            db = self.writer
            before = db.total_changes
            await db.executemany(
                INSERT_SUPPRESSION,
                [(e.address, e.scope, e.reason, e.source, e.created_at or iso_now())
                 for e in entries],
            )
            return db.total_changes - before

    async def unsuppress(
        self, address: str, scope: str | None = None, reason: str | None = None
    ) -> int:
        sql, params = unsuppress_sql(address, scope, reason)
        async with self._lock:
            cur = await self.writer.execute(sql, params)
            return cur.rowcount

    async def suppressions(
        self, address: str | None = None, limit: int = 1000,
        after: tuple[str, str, str] | None = None,
    ) -> list[SuppressionEntry]:
        if address is not None:
            rows = await self._rows(SUPPRESSIONS_OF, (address,))
        else:
            rows = await self._rows(SUPPRESSIONS_PAGE, (*(after or ("", "", "")), limit))
        return [SuppressionEntry(*r) for r in rows]

    async def meta(self, name: str, default: str) -> str:
        async with self._lock:
            await self.writer.execute(META_DEFAULT, (name, default))
        rows = await self._rows(META_VALUE, (name,))
        return str(rows[0][0])

    async def forget(self, address: str, hashed: str) -> dict[str, int]:
        touched: dict[str, int] = {}
        async with self._transaction() as db:
            for table, sql in FORGET:
                cur = await db.execute(sql, forget_params(table, address, hashed))
                touched[table] = cur.rowcount
            await db.execute(INSERT_SUPPRESSION, (hashed, "all", "erased", "forget", iso_now()))
            await db.execute(DELETE_EMPTY_MESSAGES)
        return touched

    async def purge(self, decisions_before: str, inactive_before: str, now: str) -> dict[str, int]:
        async with self._transaction() as db:
            cur = await db.execute(PURGE_DECISIONS, (decisions_before,))
            decisions = cur.rowcount
            async with db.execute(INACTIVE_CONSENTS, (inactive_before,) * 4) as found:
                expired = list(await found.fetchall())
            await db.executemany(INSERT_EVENT, [
                (address, topic, "expire", now, "purge", "") for address, topic in expired
            ])
            await db.executemany(DELETE_CONSENT, expired)
        return {"decisions": decisions, "consents_expired": len(expired)}


async def _counts(db: aiosqlite.Connection) -> dict[str, int]:
    """Row counts inside the import's transaction; the differences are the import's counts."""
    counts = {}
    for table in COUNTED_TABLES:
        async with db.execute(f"SELECT count(*) FROM {table}") as cur:
            row = await cur.fetchone()
        counts[table] = int(row[0]) if row else 0
    return counts
