"""`gatekeeper db migrate|export|import`: the schema, and moving a store between engines."""

from __future__ import annotations

import argparse
import gzip
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO, cast

from gateway.cli.commands import CliError, Commands
from gateway.config import Config
from gateway.startup import redacted
from gateway.store import Store
from gateway.store.dialect import Engine
from gateway.store.export import export_lines, import_lines
from gateway.store.schema import MIGRATIONS


def register(cmds: Commands) -> None:
    db = cmds.group("db", "the store's schema; moving a store between engines")
    cmds.command(
        "migrate",
        cmd_db_migrate,
        "apply the schema migrations (each instance also does at start, under a lock)",
        parent=db,
    )
    export = cmds.command(
        "export",
        cmd_db_export,
        "write the whole store to FILE (JSON Lines; .gz compressed; - for stdout)",
        parent=db,
        readonly=True,
    )
    export.add_argument("file", metavar="FILE")
    load = cmds.command(
        "import",
        cmd_db_import,
        "load an export into this store, all or nothing (stop the gateways first)",
        parent=db,
    )
    load.add_argument("file", metavar="FILE")
    load.add_argument(
        "--replace",
        action="store_true",
        help="delete what the store holds first (default: a store holding data is refused)",
    )


def _engine(store: Store) -> Engine:
    if not isinstance(store, Engine):
        raise CliError(f"{type(store).__name__} cannot export or import")
    return store


async def cmd_db_migrate(args: argparse.Namespace, config: Config, store: Store) -> int:
    # Opening the store applied what was missing, under the engine's lock.
    print(f"{redacted(config.store.url)}: schema at version {len(MIGRATIONS)}")
    return 0


async def cmd_db_export(args: argparse.Namespace, config: Config, store: Store) -> int:
    rows = 0
    with _output(args.file) as out:
        async for line in export_lines(_engine(store)):
            out.write(line + "\n")
            rows += 1
    where = "stdout" if args.file == "-" else args.file
    print(f"exported {max(rows - 2, 0)} rows to {where}", file=sys.stderr)
    return 0


async def cmd_db_import(args: argparse.Namespace, config: Config, store: Store) -> int:
    with _input(args.file) as lines:
        counts = await import_lines(_engine(store), lines, replace=args.replace)
    summary = ", ".join(f"{name} {count}" for name, count in counts.items() if count)
    print(f"imported {sum(counts.values())} rows ({summary or 'none'})")
    return 0


def _open_text(path: Path, mode: str, compressed: bool) -> TextIO:
    if compressed:
        return cast(TextIO, gzip.open(path, mode + "t", encoding="utf-8"))
    return cast(TextIO, open(path, mode, encoding="utf-8"))


@contextmanager
def _output(name: str) -> Iterator[TextIO]:
    """Written beside the file and renamed at the end: a failed export leaves no half file."""
    if name == "-":
        yield sys.stdout
        return
    path = Path(name)
    part = path.with_name(path.name + ".part")
    try:
        with _open_text(part, "w", path.suffix == ".gz") as out:
            yield out
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, path)


@contextmanager
def _input(name: str) -> Iterator[Iterator[str]]:
    if name == "-":
        yield iter(sys.stdin)
        return
    with _open_text(Path(name), "r", name.endswith(".gz")) as source:
        yield iter(source)
