"""`gatekeeper log` and `gatekeeper stats`: the decision log, row by row or counted."""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
from typing import TextIO

from gateway.cli.commands import Commands
from gateway.config import Config
from gateway.consent.decision_filters import FILTERS, decision_query
from gateway.store import Store
from gateway.store.records import DECISION_FIELDS, Decision
from gateway.timefmt import parse_time

PAGE = 1000
FOLLOW_INTERVAL = 1.0
"""Seconds between reads for new rows with `--follow`."""
TIME_HELP = "ISO 8601 time or a duration back from now (2h, 7d)"


def register(cmds: Commands) -> None:
    log_cmd = cmds.command("log", cmd_log, "print decisions, oldest first", readonly=True)
    add_decision_filters(log_cmd)
    log_cmd.add_argument("--format", choices=["table", "json", "csv"], default="table")
    log_cmd.add_argument("--follow", "-f", action="store_true", help="keep printing new rows")
    log_cmd.add_argument("--limit", type=int, default=0, help="at most N rows (0: all)")
    stats = cmds.command(
        "stats",
        cmd_stats,
        "decision counts by action, reason, purpose, jurisdiction",
        readonly=True,
    )
    stats.add_argument("--since", help=TIME_HELP)


def add_decision_filters(p: argparse.ArgumentParser) -> None:
    """One option per filter of `decision_filters` (`message_id` as `--message-id`)."""
    p.add_argument("--since", help=TIME_HELP)
    p.add_argument("--until", help=TIME_HELP)
    for name in FILTERS:
        if name not in ("since", "until", "message_id"):
            p.add_argument(f"--{name}")
    p.add_argument("--message-id", help="Message-ID header (no <>) or queue id")


async def cmd_log(args: argparse.Namespace, config: Config, store: Store) -> int:
    query = decision_query(vars(args))
    printer = DecisionPrinter(args.format, sys.stdout)
    remaining = args.limit or None
    while True:
        query.limit = min(remaining or PAGE, PAGE)
        rows = await store.decisions(query)
        for seq, decision in rows:
            printer.row(decision)
            query.after = seq
        sys.stdout.flush()
        if remaining is not None:
            remaining -= len(rows)
            if remaining <= 0:
                return 0
        if len(rows) < query.limit:
            if not args.follow:
                return 0
            await asyncio.sleep(FOLLOW_INTERVAL)


class DecisionPrinter:
    TABLE = (
        "time",
        "phase",
        "action",
        "recipient",
        "purpose",
        "jurisdiction",
        "basis",
        "reason",
        "rule",
    )
    WIDTHS = (24, 8, 6, 32, 17, 12, 20, 28, 0)

    def __init__(self, fmt: str, out: TextIO) -> None:
        self._fmt = fmt
        self._out = out
        self._csv = csv.DictWriter(out, fieldnames=DECISION_FIELDS) if fmt == "csv" else None
        if self._csv is not None:
            self._csv.writeheader()
        elif fmt == "table":
            out.write(self._table_line({f: f.upper() for f in self.TABLE}))

    def row(self, decision: Decision) -> None:
        record = decision.public()
        if self._csv is not None:
            self._csv.writerow(record)
        elif self._fmt == "json":
            self._out.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            self._out.write(self._table_line(record))

    def _table_line(self, record: dict[str, str]) -> str:
        cells = [
            str(record[f] or "-").ljust(w) for f, w in zip(self.TABLE, self.WIDTHS, strict=True)
        ]
        return " ".join(cells).rstrip() + "\n"


async def cmd_stats(args: argparse.Namespace, config: Config, store: Store) -> int:
    counts = await store.decision_counts(parse_time(args.since))
    for column, rows in counts.items():
        print(f"by {column}:")
        for value, count in rows:
            print(f"  {value or '-':28} {count}")
    return 0
