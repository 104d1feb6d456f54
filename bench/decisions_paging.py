"""Decision paging on a large table: keyset pages must cost the same at 10M rows as at 10k.

Generates SQLite decision tables (schema from the store's migrations) and times, through
`Store.decisions` as the dashboard and API call it, the first page, a page filtered by
reason, and a keyset page deep in the table. Not run in CI:

    python3 -m bench.decisions_paging --rows 10000 --rows 10000000 --dir /tmp/gk-bench
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway.store.records import DecisionQuery
from gateway.store.sql import DECISION_COLUMNS
from gateway.store.sqlite import SqliteStore

PAGE = 50
REPEATS = 21
CHUNK = 200_000
REASONS = ("no-consent", "consent-withdrawn", "unsubscribed", "hard-bounce", "erased")
PURPOSES = ("marketing", "transactional", "service", "survey")
JURISDICTIONS = ("eu", "pl", "cz", "nl", "de", "uk", "us", "ca")
RARE_REASON = "erased"
"""1 in 1000 rows: a filter whose matches are spread thin over the whole table."""


def rows(count: int) -> Iterator[tuple[object, ...]]:
    rng = random.Random(1)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    step = timedelta(days=365) / count
    for n in range(count):
        moment = (start + step * n).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        allowed = rng.random() < 0.7
        reason = RARE_REASON if n % 1000 == 0 else rng.choice(REASONS[:-1])
        yield (
            f"{n:020x}",
            moment,
            "bench",
            f"s{n // 3}",
            f"m{n // 3}@bench.example",
            "127.0.0.1",
            "",
            "app@example.com",
            f"r{n % 500_000}@example.org",
            rng.choice(PURPOSES),
            "",
            rng.choice(JURISDICTIONS),
            "data",
            "allow" if allowed else "deny",
            "consent" if allowed else "",
            "" if allowed else reason,
            "eu.marketing.consent",
            "GDPR art. 6(1)(a)",
            "",
            "",
        )


async def create_schema(path: Path) -> None:
    store = SqliteStore(f"sqlite:///{path}", synchronous="OFF")
    await store.open()
    await store.close()


def fill(path: Path, count: int) -> None:
    """Indexes dropped during the load and rebuilt once: far faster than updating nine
    indexes per row; the resulting file is the same as a gateway's."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA journal_mode=OFF")
    indexes = db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name='decision'"
        " AND sql IS NOT NULL"
    ).fetchall()
    for name, _ in indexes:
        db.execute(f"DROP INDEX {name}")
    columns = ", ".join(DECISION_COLUMNS)
    insert = f"INSERT INTO decision ({columns}) VALUES ({','.join('?' * len(DECISION_COLUMNS))})"
    source = rows(count)
    while chunk := [row for _, row in zip(range(CHUNK), source, strict=False)]:
        db.execute("BEGIN")
        db.executemany(insert, chunk)
        db.execute("COMMIT")
    for _, sql in indexes:
        db.execute(sql)
    db.execute("ANALYZE")
    db.close()


async def timed(store: SqliteStore, query: DecisionQuery) -> float:
    """Median milliseconds over REPEATS runs (the first one warms the page cache)."""
    await store.decisions(query)
    samples = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        page = await store.decisions(query)
        samples.append((time.perf_counter() - started) * 1000)
        assert page, f"empty page for {query}"
    return statistics.median(samples)


async def measure(path: Path, count: int) -> dict[str, float]:
    store = SqliteStore(f"sqlite:///{path}", synchronous="OFF")
    await store.open()
    try:
        deep = count // 2
        return {
            "first page": await timed(store, DecisionQuery(limit=PAGE, newest_first=True)),
            "by reason": await timed(
                store, DecisionQuery(reason=RARE_REASON, limit=PAGE, newest_first=True)
            ),
            "deep page": await timed(
                store, DecisionQuery(before=deep, limit=PAGE, newest_first=True)
            ),
            "deep by reason": await timed(
                store,
                DecisionQuery(reason=RARE_REASON, before=deep, limit=PAGE, newest_first=True),
            ),
        }
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, action="append", help="table sizes to test")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/gatekeeper-bench"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for count in args.rows or [10_000, 10_000_000]:
        path = args.dir / f"decisions-{count}.db"
        if not path.exists():
            started = time.monotonic()
            asyncio.run(create_schema(path))
            fill(path, count)
            print(f"generated {count:,} rows in {time.monotonic() - started:.0f} s", flush=True)
        results[count] = asyncio.run(measure(path, count))
    names = list(next(iter(results.values())))
    print(f"\n| rows | {' | '.join(names)} |\n|---:|{'---:|' * len(names)}")
    for count, figures in results.items():
        print(f"| {count:,} | " + " | ".join(f"{figures[n]:.2f} ms" for n in names) + " |")


if __name__ == "__main__":
    main()
