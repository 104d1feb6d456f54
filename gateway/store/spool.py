"""The spool and the decision log over any engine (claims are the engine's own)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from gateway.store.chain_store import ChainSide
from gateway.store.records import (
    Decision,
    DecisionQuery,
    InstanceRow,
    QueueCounts,
    QueueEntry,
    SpoolCounts,
    SpoolMessage,
    WriteBatch,
)
from gateway.store.sql import (
    HEARTBEAT,
    INSTANCES,
    RELEASE_HELD,
    RENEW_LEASE,
    SPOOL_COUNTS,
    SPOOL_LIST,
    SPOOL_OLDEST,
    SPOOL_PAGE,
    SPOOL_PAGE_AFTER,
    UNHELD,
    WRITE_PROBE,
    Statements,
    count_queries,
    decision_from_row,
    decisions_sql,
    queue_entry_from_row,
    write_batch_statements,
    written_in_pieces,
)


class SpoolSide(ChainSide):
    """The spool and the decision log (ChainSide: the log's hash chain)."""

    holder = ""
    """This instance's name: recipients it spools or claims are held by it (docs/fleet.md)."""

    pieces_from: int | None = None
    """Messages this large or larger get a sized row their engine fills in pieces, in
    `run_batch` (None: every message bound whole)."""

    async def commit(self, batch: WriteBatch) -> None:
        statements = write_batch_statements(batch, self.holder, self.pieces_from)
        await self.run_batch(statements, written_in_pieces(batch, self.pieces_from))

    async def run_batch(self, statements: Statements, pieces: list[SpoolMessage]) -> None:
        """The statements in one durable transaction; an engine with `pieces_from` overrides
        this to fill the sized rows of `pieces` in it too."""
        assert not pieces
        async with self.transaction() as db:
            for sql, rows in statements:
                await db.executemany(sql, rows)

    async def spool_release(self, now: float) -> int:
        async with self.transaction() as db:
            return await db.execute(
                "UPDATE spool_recipient SET next_attempt = ?, holder = '' WHERE next_attempt > ?",
                (now, now),
            )

    async def spool_renew(self, ids: Sequence[str], until: float) -> set[str]:
        """Extend this instance's lease on these messages; returns those it still holds (a
        message whose lease ran out and another instance claimed is not among them)."""
        if not ids:
            return set()
        keys, params = self.dialect.key_list(ids)
        async with self.transaction() as db:
            rows = await db.fetch(RENEW_LEASE.format(keys=keys), [until, self.holder, *params])
        return {row[0] for row in rows}

    async def spool_release_held(self, now: float, holder: str | None = None) -> int:
        """At a clean stop: what this instance (or its dead worker `holder`) still holds is
        due now, for the others."""
        async with self.transaction() as db:
            return await db.execute(RELEASE_HELD, (now, holder or self.holder))

    async def heartbeat(self, row: InstanceRow) -> None:
        async with self.transaction() as db:
            await db.execute(
                HEARTBEAT,
                (row.name, row.started_at, row.seen_at, row.smtp, row.http, row.backlog),
            )

    async def instances(self, now: float) -> tuple[list[InstanceRow], QueueCounts]:
        """The instances that ever beat, with the recipients each holds, and the queue that
        nobody holds: due now, waiting for a retry, and leases run out (a dead holder)."""
        async with self.reading() as db:
            rows = await db.fetch(INSTANCES)
            [counts] = await db.fetch(UNHELD, (now, now, now))
        return [InstanceRow(*row) for row in rows], QueueCounts(*(int(c) for c in counts))

    async def spool_list(self) -> list[QueueEntry]:
        async with self.reading() as db:
            return [queue_entry_from_row(r) for r in await db.fetch(SPOOL_LIST)]

    async def spool_counts(self, now: float) -> SpoolCounts:
        async with self.reading() as db:
            [(recipients, due)] = await db.fetch(SPOOL_COUNTS, (now,))
            [(oldest,)] = await db.fetch(SPOOL_OLDEST)
        return SpoolCounts(int(recipients), int(due), None if oldest is None else float(oldest))

    async def spool_page(
        self, after: tuple[float, str, str] | None, limit: int
    ) -> list[QueueEntry]:
        sql = SPOOL_PAGE.format(after=SPOOL_PAGE_AFTER if after else "")
        async with self.reading() as db:
            rows = await db.fetch(sql, [*(after or ()), limit])
        return [queue_entry_from_row(r) for r in rows]

    async def write_probe(self) -> None:
        async with self.transaction() as db:
            await db.execute(WRITE_PROBE, (str(time.time()),))

    async def spool_retry(self, ids: Sequence[str], now: float) -> int:
        sql, params = "UPDATE spool_recipient SET next_attempt = ?", [now]
        if ids:
            keys, params = self.dialect.key_list(ids)
            sql, params = f"{sql} WHERE message_id IN ({keys})", [now, *params]
        async with self.transaction() as db:
            return await db.execute(sql, params)

    async def decisions(self, query: DecisionQuery) -> list[tuple[int, Decision]]:
        async with self.reading() as db:
            rows = await db.fetch(*decisions_sql(query))
        return [(row[0], decision_from_row(row[1:])) for row in rows]

    async def decision_counts(self, since: str | None = None) -> dict[str, list[tuple[str, int]]]:
        params = [since] if since else []
        async with self.reading() as db:
            return {
                column: [(str(value), int(count)) for value, count in await db.fetch(sql, params)]
                for column, sql in count_queries(since).items()
            }
