"""PostgreSQL engine, consent side: contacts, consents and their history, suppressions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice

import asyncpg

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
    numbered,
    split_facts_union,
    unsuppress_sql,
)


class PostgresConsent:
    @property
    def pool(self) -> asyncpg.Pool:
        raise NotImplementedError

    async def recipient_facts(
        self, addresses: Sequence[str], suppressed_only: Sequence[str] = ()
    ) -> dict[str, RecipientFacts]:
        unique, either = facts_keys(addresses, suppressed_only)
        if not either:
            return {}
        # FACTS_UNION's IN lists as array parameters, whatever the number of addresses
        sql = FACTS_UNION.format("SELECT unnest($1::text[])", "SELECT unnest($2::text[])")
        rows = await self.pool.fetch(sql, unique, either)
        return build_facts(split_facts_union(rows))

    async def import_contacts(self, rows: Iterable[ContactRow]) -> ImportCounts:
        counts = ImportCounts()
        now = iso_now()
        async with self.pool.acquire() as conn, conn.transaction():
            before = await _counts(conn)
            iterator = iter(rows)
            while chunk := list(islice(iterator, IMPORT_CHUNK)):
                for sql, params in import_batches(chunk, now):
                    await conn.executemany(numbered(sql), params)
                counts.rows += len(chunk)
            after = await _counts(conn)
        counts.contacts_new, counts.consent_events, counts.suppressions = (
            after[table] - before[table] for table in COUNTED_TABLES
        )
        return counts

    async def contact(self, address: str) -> ContactView | None:
        async with self.pool.acquire() as conn:
            rows = {
                name: list(await conn.fetch(numbered(sql), address))
                for name, sql in CONTACT_VIEW_QUERIES.items()
            }
        return contact_view(address, rows, await self.suppressions(address))

    async def record_consent(self, events: Sequence[ConsentEvent]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            for event in events:
                await conn.execute(numbered(ENSURE_CONTACT), event.address, event.address,
                                   event.source or None, event.at)
                await conn.execute(numbered(INSERT_EVENT), event.address, event.topic,
                                   event.kind, event.at, event.source, event.proof)
                state = consent_state_params(event)
                if state is not None:
                    await conn.execute(numbered(state[0]), *state[1])

    async def suppress(self, entries: Sequence[SuppressionEntry]) -> int:
        # One statement per entry: executemany reports no row counts, and we need the new ones.
        added = 0
        async with self.pool.acquire() as conn, conn.transaction():
            for e in entries:
                status = await conn.execute(numbered(INSERT_SUPPRESSION), e.address, e.scope,
                                            e.reason, e.source, e.created_at or iso_now())
                added += affected(status)
        return added

    async def unsuppress(
        self, address: str, scope: str | None = None, reason: str | None = None
    ) -> int:
        sql, params = unsuppress_sql(address, scope, reason)
        return affected(await self.pool.execute(numbered(sql), *params))

    async def suppressions(
        self, address: str | None = None, limit: int = 1000,
        after: tuple[str, str, str] | None = None,
    ) -> list[SuppressionEntry]:
        if address is not None:
            rows = await self.pool.fetch(numbered(SUPPRESSIONS_OF), address)
        else:
            rows = await self.pool.fetch(numbered(SUPPRESSIONS_PAGE), *(after or ("", "", "")),
                                         limit)
        return [SuppressionEntry(*r) for r in rows]

    async def meta(self, name: str, default: str) -> str:
        async with self.pool.acquire() as conn:
            await conn.execute(numbered(META_DEFAULT), name, default)
            return str(await conn.fetchval(numbered(META_VALUE), name))

    async def forget(self, address: str, hashed: str) -> dict[str, int]:
        touched: dict[str, int] = {}
        async with self.pool.acquire() as conn, conn.transaction():
            for table, sql in FORGET:
                status = await conn.execute(numbered(sql), *forget_params(table, address, hashed))
                touched[table] = affected(status)
            await conn.execute(numbered(INSERT_SUPPRESSION), hashed, "all", "erased", "forget",
                               iso_now())
            await conn.execute(DELETE_EMPTY_MESSAGES)
        return touched

    async def purge(self, decisions_before: str, inactive_before: str, now: str) -> dict[str, int]:
        async with self.pool.acquire() as conn, conn.transaction():
            decisions = affected(await conn.execute(numbered(PURGE_DECISIONS), decisions_before))
            expired = [tuple(r) for r in
                       await conn.fetch(numbered(INACTIVE_CONSENTS), *(inactive_before,) * 4)]
            await conn.executemany(numbered(INSERT_EVENT), [
                (address, topic, "expire", now, "purge", "") for address, topic in expired
            ])
            await conn.executemany(numbered(DELETE_CONSENT), expired)
        return {"decisions": decisions, "consents_expired": len(expired)}


async def _counts(conn: asyncpg.Connection) -> dict[str, int]:
    """Row counts inside the import's transaction; the differences are the import's counts."""
    return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in COUNTED_TABLES}


def affected(status: str) -> int:
    """Row count from a command status such as `DELETE 3` or `INSERT 0 1`."""
    return int(status.rsplit(" ", 1)[-1])
