"""`gatekeeper db export` / `db import`: a whole store as JSON Lines, between any two engines.

The file, one JSON value per line (docs/fleet.md):

    {"format": "gatekeeper-export", "version": 1, "schema": 5, "engine": "sqlite",
     "tables": {"contact": ["address", "original", ...], ...}}
    {"t": "contact", "r": ["a@example.org", "A@example.org", ...]}
    ...
    {"end": true, "rows": {"contact": 10000, ...}}

Every table is exported but the per-database bookkeeping (`schema_version`, the `instance`
heartbeats), with its columns as the exporting store has them, so tables other parts of the
gateway add later travel too. Bytes are `{"b64": …}`; `seq` columns keep their values, so
decision sequence numbers and consent history order survive the move. Export reads one
snapshot a chunk at a time; import streams the file in chunks into one transaction, and a
missing end line (a truncated file) or any bad row rolls all of it back.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from gateway.store.dialect import Connection, Engine, marks
from gateway.store.interface import StoreError
from gateway.store.schema import MIGRATIONS

FORMAT = "gatekeeper-export"
VERSION = 1
SKIPPED = frozenset({"schema_version", "instance"})
"""Per database, not data: the schema's own record, the living instances' heartbeats."""
IMPORT_CHUNK = 1000

TABLES = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    "postgresql": "SELECT table_name FROM information_schema.tables"
    " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
}
COLUMNS = {
    "sqlite": "SELECT name, 'NO' FROM pragma_table_info(?) ORDER BY cid",
    "postgresql": "SELECT column_name, is_identity FROM information_schema.columns"
    " WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
}


class ExportError(StoreError):
    """A file that is not an export this gateway can import, or a store that refuses it."""


async def catalog(db: Connection, dialect: str) -> dict[str, tuple[list[str], list[str]]]:
    """Data tables: name -> (columns in order, identity columns)."""
    names = sorted(str(r[0]) for r in await db.fetch(TABLES[dialect]))
    tables = {}
    for name in names:
        if name in SKIPPED:
            continue
        rows = await db.fetch(COLUMNS[dialect], [name])
        tables[name] = ([str(r[0]) for r in rows], [str(r[0]) for r in rows if r[1] == "YES"])
    return tables


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        return base64.b64decode(value["b64"])
    return value


async def export_lines(store: Engine) -> AsyncIterator[str]:
    """The export, line by line, from one snapshot of the store."""
    async with store.snapshot() as db:
        tables = await catalog(db, store.dialect.name)
        header = {
            "format": FORMAT,
            "version": VERSION,
            "schema": len(MIGRATIONS),
            "engine": store.dialect.name,
            "tables": {name: columns for name, (columns, _) in tables.items()},
        }
        yield json.dumps(header)
        counts: dict[str, int] = {}
        for name, (columns, _) in tables.items():
            counts[name] = 0
            async for row in db.stream(f"SELECT {', '.join(columns)} FROM {name}"):
                counts[name] += 1
                yield json.dumps({"t": name, "r": [_encode(v) for v in row]})
        yield json.dumps({"end": True, "rows": counts})


def read_header(lines: Iterator[str]) -> dict[str, Any]:
    try:
        header = json.loads(next(lines))
    except (StopIteration, ValueError) as exc:
        raise ExportError("not a gatekeeper export (no header line)") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ExportError("not a gatekeeper export (line 1 is not its header)")
    if header.get("version") != VERSION:
        raise ExportError(f"export format version {header.get('version')} is not {VERSION}")
    if int(header.get("schema", 0)) > len(MIGRATIONS):
        raise ExportError(f"export schema {header['schema']} is newer than this gateway")
    return header


async def import_lines(store: Engine, lines: Iterable[str], *, replace: bool) -> dict[str, int]:
    """All or nothing: the whole file in one transaction. A store holding data is refused
    unless `replace` (its rows are deleted first, in the same transaction). `meta` (the
    erasure key, shared settings) always comes from the export: erased addresses' hashes
    only match under the key they were made with."""
    it = iter(lines)
    header = read_header(it)
    async with store.transaction() as db:
        ours = await catalog(db, store.dialect.name)
        plan = _plan(header["tables"], ours)
        await _clear(db, ours, replace)
        counts = await _load(db, store.dialect.name, it, plan)
        if store.dialect.name == "postgresql":
            await _advance_identities(db, plan)
    return counts


def _plan(
    theirs: dict[str, list[str]], ours: dict[str, tuple[list[str], list[str]]]
) -> dict[str, tuple[list[str], list[str]]]:
    """Exported table -> (its columns, our identity columns among them); every exported
    table and column must exist here (ours may have more: they take their defaults)."""
    plan = {}
    for name, columns in theirs.items():
        if name not in ours:
            raise ExportError(f"export has table {name!r}, which this gateway does not have")
        missing = [c for c in columns if c not in ours[name][0]]
        if missing:
            raise ExportError(f"export has {name}.{missing[0]}, which this gateway does not have")
        plan[name] = (columns, [c for c in ours[name][1] if c in columns])
    return plan


async def _clear(db: Connection, ours: dict[str, Any], replace: bool) -> None:
    held = {}
    for name in ours:
        if name != "meta":
            [(count,)] = await db.fetch(f"SELECT count(*) FROM {name}")
            if count:
                held[name] = int(count)
    if held and not replace:
        what = ", ".join(f"{name} {count}" for name, count in held.items())
        raise ExportError(f"the store is not empty ({what} rows): --replace deletes them first")
    for name in ours:
        if name == "meta" or name in held:
            await db.execute(f"DELETE FROM {name}")


async def _load(
    db: Connection, dialect: str, lines: Iterator[str], plan: dict[str, Any]
) -> dict[str, int]:
    counts = dict.fromkeys(plan, 0)
    chunk: list[list[Any]] = []
    table = ""
    for number, line in enumerate(lines, start=2):
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise ExportError(f"line {number}: not JSON ({exc})") from exc
        if item.get("end"):
            if chunk:
                await _insert(db, dialect, table, plan[table], chunk)
            if item.get("rows") != counts:
                raise ExportError(f"line {number}: row counts {item.get('rows')} != read {counts}")
            return counts
        if item.get("t") != table or len(chunk) >= IMPORT_CHUNK:
            if chunk:
                await _insert(db, dialect, table, plan[table], chunk)
            table, chunk = item.get("t"), []
            if table not in plan:
                raise ExportError(f"line {number}: table {table!r} is not in the header")
        chunk.append([_decode(v) for v in item["r"]])
        counts[table] += 1
    raise ExportError("the export ends before its end line (a truncated file?)")


async def _insert(
    db: Connection, dialect: str, table: str, plan: tuple[list[str], list[str]], rows: list
) -> None:
    columns, identity = plan
    # PostgreSQL refuses values for GENERATED ALWAYS columns unless told to take them.
    override = " OVERRIDING SYSTEM VALUE" if identity and dialect == "postgresql" else ""
    await db.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}){override} VALUES ({marks(len(columns))})",
        rows,
    )


async def _advance_identities(db: Connection, plan: dict[str, Any]) -> None:
    """New rows after an import continue after the imported sequence numbers."""
    for table, (_, identity) in plan.items():
        for column in identity:
            await db.fetch(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                f" coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)"
            )
