"""SQLite engine, consent side: contacts, consents and their history, suppressions."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable, Sequence
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
    ENSURE_CONTACT,
    FACTS_UNION,
    FORGET,
    IMPORT_STATEMENTS,
    INACTIVE_CONSENTS,
    INSERT_EVENT,
    INSERT_SUPPRESSION,
    SUPPRESSIONS_OF,
    SUPPRESSIONS_PAGE,
    build_facts,
    consent_state_params,
    contact_row_params,
    forget_params,
    marks,
    split_facts_union,
    unsuppress_sql,
)

IMPORT_CHUNK = 5000


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

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        async with self.reader.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def recipient_facts(self, addresses: Sequence[str]) -> dict[str, RecipientFacts]:
        if not addresses:
            return {}
        unique = list(dict.fromkeys(addresses))
        rows = self.lookup.execute(FACTS_UNION.format(marks(len(unique))), unique * 4).fetchall()
        return build_facts(split_facts_union(rows))

    async def import_contacts(self, rows: Iterable[ContactRow]) -> ImportCounts:
        counts = ImportCounts()
        now = iso_now()
        async with self._lock:
            db = self.writer
            await db.execute("BEGIN IMMEDIATE")
            try:
                before = await self._count(db, "contact")
                events_before = await self._count(db, "consent_event")
                suppressions_before = await self._count(db, "suppression")
                iterator = iter(rows)
                while chunk := list(islice(iterator, IMPORT_CHUNK)):
                    await self._import_chunk(db, chunk, now)
                    counts.rows += len(chunk)
                counts.contacts_new = await self._count(db, "contact") - before
                counts.consent_events = await self._count(db, "consent_event") - events_before
                counts.suppressions = await self._count(db, "suppression") - suppressions_before
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            await db.execute("COMMIT")
        return counts

    @staticmethod
    async def _count(db: aiosqlite.Connection, table: str) -> int:
        async with db.execute(f"SELECT count(*) FROM {table}") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    @staticmethod
    async def _import_chunk(db: aiosqlite.Connection, chunk: list[ContactRow], now: str) -> None:
        batches: dict[str, list[tuple[Any, ...]]] = {sql: [] for sql in IMPORT_STATEMENTS}
        for row in chunk:
            for sql, params in contact_row_params(row, now).items():
                batches[sql].extend(params)
        for sql in IMPORT_STATEMENTS:
            if batches[sql]:
                await db.executemany(sql, batches[sql])

    async def contact(self, address: str) -> ContactView | None:
        found = await self._rows(
            "SELECT address, original, country, source, created_at, last_engaged_at"
            " FROM contact WHERE address = ?", (address,)
        )
        suppressions = await self.suppressions(address)
        if not found and not suppressions:
            return None
        view = ContactView(*found[0]) if found else ContactView(address)
        view.suppressions = suppressions
        view.consents = [
            dict(zip(("topic", "granted_at", "double_opt_in_at", "withdrawn_at", "source",
                      "proof"), r, strict=True))
            for r in await self._rows(
                "SELECT topic, granted_at, double_opt_in_at, withdrawn_at, source, proof"
                " FROM consent WHERE address = ? ORDER BY topic", (address,)
            )
        ]
        view.events = [
            ConsentEvent(*r) for r in await self._rows(
                "SELECT address, topic, kind, at, source, proof FROM consent_event"
                " WHERE address = ? ORDER BY at, seq", (address,)
            )
        ]
        view.relationships = [
            dict(zip(("kind", "last_at", "categories"), r, strict=True))
            for r in await self._rows(
                "SELECT kind, last_at, categories FROM relationship WHERE address = ?"
                " ORDER BY kind", (address,)
            )
        ]
        return view

    async def record_consent(self, events: Sequence[ConsentEvent]) -> None:
        async with self._lock:
            db = self.writer
            await db.execute("BEGIN IMMEDIATE")
            try:
                for event in events:
                    await db.execute(ENSURE_CONTACT, (event.address, event.address,
                                                      event.source or None, event.at))
                    await db.execute(INSERT_EVENT, (event.address, event.topic, event.kind,
                                                    event.at, event.source, event.proof))
                    state = consent_state_params(event)
                    if state is not None:
                        await db.execute(*state)
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            await db.execute("COMMIT")

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
            await self.writer.execute(
                "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                (name, default),
            )
        rows = await self._rows("SELECT value FROM meta WHERE name = ?", (name,))
        return str(rows[0][0])

    async def forget(self, address: str, hashed: str) -> dict[str, int]:
        touched: dict[str, int] = {}
        async with self._lock:
            db = self.writer
            await db.execute("BEGIN IMMEDIATE")
            try:
                for table, sql in FORGET:
                    cur = await db.execute(sql, forget_params(table, address, hashed))
                    touched[table] = cur.rowcount
                await db.execute(INSERT_SUPPRESSION, (hashed, "all", "erased", "forget",
                                                      iso_now()))
                await db.execute(
                    "DELETE FROM spool_message WHERE NOT EXISTS (SELECT 1 FROM spool_recipient"
                    " WHERE message_id = spool_message.id)"
                )
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            await db.execute("COMMIT")
        return touched

    async def purge(self, decisions_before: str, inactive_before: str, now: str) -> dict[str, int]:
        async with self._lock:
            db = self.writer
            await db.execute("BEGIN IMMEDIATE")
            try:
                cur = await db.execute("DELETE FROM decision WHERE time < ?", (decisions_before,))
                decisions = cur.rowcount
                async with db.execute(INACTIVE_CONSENTS, (inactive_before,) * 4) as found:
                    expired = list(await found.fetchall())
                await db.executemany(INSERT_EVENT, [
                    (address, topic, "expire", now, "purge", "") for address, topic in expired
                ])
                await db.executemany(
                    "DELETE FROM consent WHERE address = ? AND topic = ?", expired
                )
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            await db.execute("COMMIT")
        return {"decisions": decisions, "consents_expired": len(expired)}
