"""The decision chain over any engine: its head at start, its rows for verification, its
anchors and checkpoints (docs/accountability.md). Rows are written by the commit path
(store/sql.py INSERT_DECISION) with the link the writer gave them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from gateway.store.chain import GENESIS, HASHED_FIELDS, Anchor, ChainRow
from gateway.store.dialect import Engine

CHAIN_PAGE = 2000
HEAD = (
    "SELECT chain_n, chain_hash FROM decision WHERE instance = ? AND chain_hash <> ''"
    " ORDER BY seq DESC LIMIT 1"
)
ANCHOR_HEAD = (
    "SELECT n, head FROM chain_anchor WHERE instance = ? AND kind = 'purge' ORDER BY n DESC LIMIT 1"
)
INSTANCES = (
    "SELECT DISTINCT instance FROM decision UNION SELECT DISTINCT instance FROM chain_anchor"
)
ROWS = (
    f"SELECT seq, chain_n, chain_prev, chain_hash, {', '.join(HASHED_FIELDS)} FROM decision"
    " WHERE instance = ? AND seq > ? ORDER BY seq LIMIT ?"
)
FIRST_SINCE = "SELECT min(seq) FROM decision WHERE instance = ? AND time >= ?"
ANCHORS = "SELECT instance, n, head, at, kind FROM chain_anchor WHERE instance = ? ORDER BY n"
INSERT_ANCHOR = (
    "INSERT INTO chain_anchor (instance, n, head, at, kind, rows) VALUES (?,?,?,?,?,?)"
    " ON CONFLICT DO NOTHING"
)
LEGACY = "SELECT value FROM meta WHERE name = 'chain_legacy_seq'"
# Retention cuts each chain at its newest row older than the limit: a prefix, so what remains
# still links up, from the anchor the purge leaves (the row it cut last).
PURGE_CUTS = (
    "SELECT d.instance, d.seq, d.chain_n, d.chain_hash, d.time FROM decision d JOIN"
    " (SELECT instance, max(seq) AS seq FROM decision WHERE time < ? GROUP BY instance) c"
    " ON c.instance = d.instance AND c.seq = d.seq"
)
PURGE_PREFIX = "DELETE FROM decision WHERE instance = ? AND seq <= ?"


def chain_row(row: Sequence[Any]) -> ChainRow:
    return ChainRow(int(row[0]), int(row[1]), row[2], row[3], tuple(row[4:]))


class ChainSide(Engine):
    async def chain_head(self, instance: str) -> tuple[int, str]:
        """The position and hash the instance's next row links to: its newest row's, or
        the anchor a purge left when it cut every row."""
        async with self.reading() as db:
            heads = [tuple(r) for r in await db.fetch(HEAD, (instance,))]
            heads += [tuple(r) for r in await db.fetch(ANCHOR_HEAD, (instance,))]
        if not heads:
            return 0, GENESIS
        n, head = max(heads)
        return int(n), str(head)

    async def chain_instances(self) -> list[str]:
        async with self.reading() as db:
            return sorted(str(r[0]) for r in await db.fetch(INSTANCES))

    async def chain_anchors(self, instance: str) -> list[Anchor]:
        async with self.reading() as db:
            rows = await db.fetch(ANCHORS, (instance,))
        return [Anchor(r[0], int(r[1]), r[2], r[3], r[4]) for r in rows]

    async def chain_legacy_seq(self) -> int:
        async with self.reading() as db:
            rows = await db.fetch(LEGACY)
        return int(rows[0][0]) if rows else 0

    async def chain_rows(self, instance: str, since: str | None = None) -> AsyncIterator[ChainRow]:
        """The instance's rows in seq order, a page at a time (never all in memory)."""
        after = 0
        async with self.reading() as db:
            if since:
                [(first,)] = await db.fetch(FIRST_SINCE, (instance, since))
                if first is None:
                    return
                after = int(first) - 1
            while rows := await db.fetch(ROWS, (instance, after, CHAIN_PAGE)):
                for row in rows:
                    yield chain_row(row)
                after = int(rows[-1][0])

    async def save_anchor(self, anchor: Anchor, rows: int = 0) -> None:
        async with self.transaction() as db:
            await db.execute(
                INSERT_ANCHOR,
                (anchor.instance, anchor.n, anchor.head, anchor.at, anchor.kind, rows),
            )
