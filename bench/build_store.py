"""Build a benchmark store of N generated contacts fast, without `gatekeeper contacts import`.

  python3 -m bench.build_store sqlite COUNT [--rcpts R] [--cache DIR | --out FILE]
  python3 -m bench.build_store postgres COUNT [--rcpts R] [--server URL]

The rows are those `gatekeeper contacts import` of `bench/gen_contacts.py`'s CSV would write
(consents for every other contact, a purchase for every third), plus smtp-source's recipients
(`rcpt@dst.example.com`, `2rcpt@…` up to `Rrcpt@…`: smtp-source -r R names them so) as US
contacts with marketing consent, imported through the store's own `import_contacts`.

Why it is fast and still real: the store is opened with the gateway's own API first, so the
schema is what its migrations make; every row goes through the import's own
`contact_row` (once per distinct shape, the address alone differing) and `contact_row_params`
(the statements and parameters an import runs); only the per-row address check is skipped
(the generated addresses are plain ASCII, `canonical()` is still applied). SQLite: big
transactions, `synchronous=OFF` and no journal while building, WAL again at the end.
PostgreSQL: COPY into a template database, then ANALYZE; each run clones it.

sqlite prints the path of the built file; with --cache it is `DIR/store-COUNT-rR-HASH.db`
(HASH: this file, the schema and the import code), built only when missing. postgres prints
the template database's name (`gk_bench_tpl_COUNT_rR_HASH`), built only when missing.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import os
import re
import sqlite3
import sys
import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from bench.gen_contacts import row
from gateway.addresses import canonical
from gateway.consent.contacts import COLUMNS, contact_row
from gateway.store import open_store
from gateway.store.consent_sql import IMPORT_STATEMENTS, contact_row_params
from gateway.store.records import ContactRow, iso_now

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 50_000
"""Contacts per executemany/COPY batch."""
COMMIT_EVERY = 1_000_000
"""Contacts per SQLite transaction."""
HASHED = (
    "bench/build_store.py",
    "bench/gen_contacts.py",
    "gateway/store/schema.py",
    "gateway/store/consent_sql.py",
    "gateway/consent/contacts.py",
)
_TABLE = re.compile(r"INSERT INTO (\w+) \(([^)]*)\)")


def version() -> str:
    """What the built store depends on: a change to any of these makes a new one."""
    digest = hashlib.sha256()
    for name in HASHED:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()[:10]


def contact_rows(count: int) -> Iterator[ContactRow]:
    """The import's ContactRow for each generated CSV row. contact_row (the import's check
    and normalisation) runs once per distinct non-address shape; the address is set after."""
    shapes: dict[tuple[str, ...], ContactRow] = {}
    for n in range(count):
        values = row(n)
        key = tuple(values[1:])
        shape = shapes.get(key)
        if shape is None:
            shape = contact_row(0, dict(zip(COLUMNS, ["shape@example.com", *key], strict=True)))
            shapes[key] = shape
        address = values[0]
        yield dataclasses.replace(shape, line=n + 2, address=canonical(address), original=address)


def bench_rcpts(count: int) -> list[ContactRow]:
    """smtp-source's recipients, checked by the import's own row code."""
    rows = []
    for i in range(1, count + 1):
        record: dict[str, str | None] = {
            "email": f"{'' if i == 1 else i}rcpt@dst.example.com",
            "country": "us",
            "source": "signup-form",
            "consent_topics": "marketing",
            "consent_at": "2026-01-01",
            "consent_proof": "ip=192.0.2.1",
        }
        rows.append(contact_row(i + 1, record))
    return rows


def batches(count: int) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
    """Parameters per import statement, CHUNK contacts at a time."""
    now = iso_now()
    rows = contact_rows(count)
    while chunk := list(islice(rows, CHUNK)):
        params: dict[str, list[tuple[Any, ...]]] = {sql: [] for sql in IMPORT_STATEMENTS}
        for contact in chunk:
            for sql, values in contact_row_params(contact, now).items():
                params[sql].extend(values)
        yield params


async def open_close(url: str, rcpts: int = 0) -> None:
    """Open with the gateway's API (migrations: the real schema); import the recipients."""
    store = open_store(url)
    await store.open()
    try:
        if rcpts:
            await store.import_contacts(bench_rcpts(rcpts))
    finally:
        await store.close()


def build_sqlite(path: Path, count: int, rcpts: int) -> None:
    path.unlink(missing_ok=True)
    asyncio.run(open_close(f"sqlite:///{path}"))
    db = sqlite3.connect(path, isolation_level=None)
    # A throw-away file while it is built: no journal, no fsync, a big page cache.
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-1000000")
    done = 0
    db.execute("BEGIN")
    for params in batches(count):
        for sql, values in params.items():
            if values:
                db.executemany(sql, values)
        done += CHUNK
        if done % COMMIT_EVERY == 0:
            db.execute("COMMIT")
            db.execute("BEGIN")
            print(f"  {done:,} contacts", file=sys.stderr)
    db.execute("COMMIT")
    db.execute("PRAGMA journal_mode=WAL")  # what the gateway runs with
    db.close()
    asyncio.run(open_close(f"sqlite:///{path}", rcpts))
    os.sync()


async def copy_postgres(url: str, count: int) -> None:
    import asyncpg  # only the postgres engine needs it

    conn = await asyncpg.connect(url)
    try:
        for params in batches(count):
            for sql, values in params.items():
                if values:
                    table, columns = _TABLE.match(sql).groups()  # type: ignore[union-attr]
                    names = [c.strip() for c in columns.split(",")]
                    await conn.copy_records_to_table(table, records=values, columns=names)
        await conn.execute("ANALYZE")  # a long-lived database has statistics
    finally:
        await conn.close()


def psql(server: str, sql: str) -> str:
    import subprocess

    done = subprocess.run(
        ["psql", f"{server}/postgres", "-Atqc", sql], capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"psql {sql!r}: {done.stderr.strip()}")
    return done.stdout.strip()


def build_postgres(server: str, count: int, rcpts: int) -> str:
    name = f"gk_bench_tpl_{count}_r{rcpts}_{version()}"
    existing = psql(server, "SELECT datname FROM pg_database WHERE datname LIKE 'gk_bench_tpl_%'")
    if name in existing.split():
        return name
    for stale in existing.split():  # templates of older code: never used again
        if stale.startswith(f"gk_bench_tpl_{count}_"):
            psql(server, f"DROP DATABASE IF EXISTS {stale}")
    building = f"{name}_building"
    psql(server, f"DROP DATABASE IF EXISTS {building}")
    # C collation: byte order as on SQLite (docs/store.md)
    psql(
        server,
        f"CREATE DATABASE {building} TEMPLATE template0 LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'",
    )
    url = f"{server}/{building}"
    asyncio.run(open_close(url))
    asyncio.run(copy_postgres(url, count))
    asyncio.run(open_close(url, rcpts))
    psql(server, f"ALTER DATABASE {building} RENAME TO {name}")
    return name


def cached_sqlite(cache: Path, count: int, rcpts: int) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"store-{count}-r{rcpts}-{version()}.db"
    if path.exists():
        return path
    for stale in cache.glob(f"store-{count}-r{rcpts}-*.db"):  # older code's: never used again
        stale.unlink()
    building = path.with_suffix(".building")
    build_sqlite(building, count, rcpts)
    building.rename(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("engine", choices=("sqlite", "postgres"))
    parser.add_argument("count", type=int)
    parser.add_argument("--rcpts", type=int, default=10, help="smtp-source recipients (10)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/gk_bench_stores"))
    parser.add_argument("--out", type=Path, help="sqlite: build this file, no cache")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    started = time.monotonic()
    if args.engine == "postgres":
        print(build_postgres(args.server, args.count, args.rcpts))
    elif args.out:
        build_sqlite(args.out, args.count, args.rcpts)
        print(args.out)
    else:
        print(cached_sqlite(args.cache, args.count, args.rcpts))
    print(f"  store ready in {time.monotonic() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
