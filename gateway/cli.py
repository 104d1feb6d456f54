"""`gatekeeper` command line: one sub-command per job, all reading the same config."""

from __future__ import annotations

import argparse
import asyncio
import csv
import getpass
import inspect
import json
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TextIO

from gateway.config import Config, ConfigError, load_config, parse_duration
from gateway.logs import setup_logging
from gateway.store import Store, StoreError, open_store
from gateway.store.records import DECISION_FIELDS, Decision, DecisionQuery

Command = Callable[..., Awaitable[int] | int]
"""(args, config) or, to get the store opened, (args, config, store); sync or async."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"gatekeeper: {exc}", file=sys.stderr)
        return 2
    setup_logging(config)
    try:
        import uvloop  # the optional extra `fast`: a quicker event loop, same semantics

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    try:
        if args.sync:
            return args.run(args, config)
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(run_async(args, config))
    except (ConfigError, StoreError, ValueError) as exc:
        print(f"gatekeeper: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


async def run_async(args: argparse.Namespace, config: Config) -> int:
    """A command that takes a `store` gets it opened for it and closed after."""
    if not args.store:
        return int(await args.run(args, config))
    store = open_store(config.store.url, synchronous=config.store.synchronous)
    await store.open()
    try:
        return int(await args.run(args, config, store))
    finally:
        await store.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gatekeeper", description=__doc__)
    parser.add_argument("--config", help="config file (default: $GATEKEEPER_CONFIG, "
                        "./gatekeeper.toml, else built-in defaults)")
    sub = parser.add_subparsers(metavar="COMMAND")

    def command(name: str, run: Command, help: str, *, sync: bool = False,
                parent: argparse._SubParsersAction | None = None) -> argparse.ArgumentParser:
        p = (parent or sub).add_parser(name, help=help, description=help)
        p.set_defaults(run=run, sync=sync, store="store" in inspect.signature(run).parameters)
        return p

    command("serve", cmd_serve, "run the SMTP listener, HTTP server and delivery workers")

    user = sub.add_parser("user", help="SMTP logins").add_subparsers(metavar="ACTION")
    add = command("add", cmd_user_add, "make a password hash and print the config lines",
                  sync=True, parent=user)
    add.add_argument("name")
    add.add_argument("--scheme", choices=["argon2", "scrypt"], default="argon2")
    add.add_argument("--purpose")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input instead of prompting")

    log_cmd = command("log", cmd_log, "print decisions, oldest first")
    add_decision_filters(log_cmd)
    log_cmd.add_argument("--format", choices=["table", "json", "csv"], default="table")
    log_cmd.add_argument("--follow", "-f", action="store_true", help="keep printing new rows")
    log_cmd.add_argument("--limit", type=int, default=0, help="at most N rows (0: all)")

    queue = sub.add_parser("queue", help="the delivery spool").add_subparsers(metavar="ACTION")
    command("list", cmd_queue_list, "show queued recipients", parent=queue)
    retry = command("retry", cmd_queue_retry, "make queued messages due now", parent=queue)
    retry.add_argument("ids", nargs="*", help="queue ids (default: all)")

    from gateway.cli_consent import register

    register(sub, command)
    return parser


def add_decision_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", help="ISO 8601 time or a duration back from now (2h, 7d)")
    p.add_argument("--until", help="ISO 8601 time")
    for name in ("action", "reason", "recipient", "purpose", "jurisdiction", "sender", "phase"):
        p.add_argument(f"--{name}")
    p.add_argument("--message-id", help="Message-ID header (no <>) or queue id")


def decision_query(args: argparse.Namespace) -> DecisionQuery:
    return DecisionQuery(
        since=parse_time(args.since),
        until=parse_time(args.until),
        action=args.action,
        reason=args.reason,
        recipient=args.recipient.lower() if args.recipient else None,
        purpose=args.purpose,
        jurisdiction=args.jurisdiction.lower() if args.jurisdiction else None,
        sender=args.sender,
        phase=args.phase,
        message_id=args.message_id.strip("<>") if args.message_id else None,
    )


def parse_time(text: str | None) -> str | None:
    """A bound for the `time` column, in its own sortable form."""
    if not text:
        return None
    try:
        moment = datetime.now(UTC) - timedelta(seconds=parse_duration(text))
    except ValueError:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    from gateway.app import serve

    await serve(config)
    return 0


def cmd_user_add(args: argparse.Namespace, config: Config) -> int:
    from gateway.smtp.auth import hash_password

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"Password for {args.name}: ")
        if getpass.getpass("Again: ") != password:
            print("gatekeeper: passwords differ", file=sys.stderr)
            return 1
    if len(password) < 12:
        print("gatekeeper: use at least 12 characters", file=sys.stderr)
        return 1
    print("[[smtp.users]]")
    print(f"name = {json.dumps(args.name)}")
    print(f"password_hash = {json.dumps(hash_password(password, args.scheme))}")
    if args.purpose:
        print(f"purpose = {json.dumps(args.purpose)}")
    return 0


async def cmd_log(args: argparse.Namespace, config: Config, store: Store) -> int:
    query = decision_query(args)
    printer = DecisionPrinter(args.format, sys.stdout)
    remaining = args.limit or None
    while True:
        query.limit = min(remaining or 1000, 1000)
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
            await asyncio.sleep(1.0)


class DecisionPrinter:
    TABLE = ("time", "phase", "action", "recipient", "purpose", "jurisdiction", "basis",
             "reason", "rule")

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
        widths = (24, 8, 6, 32, 17, 12, 20, 28, 0)
        cells = [str(record[f] or "-").ljust(w) for f, w in zip(self.TABLE, widths, strict=True)]
        return " ".join(cells).rstrip() + "\n"


async def cmd_queue_list(args: argparse.Namespace, config: Config, store: Store) -> int:
    entries = await store.spool_list()
    now = time.time()
    for e in entries:
        due = "now" if e.next_attempt <= now else f"in {int(e.next_attempt - now)}s"
        print(f"{e.id}  {e.recipient}  from <{e.sender}>  {e.size} bytes  attempts={e.attempts}"
              f"  next={due}  {e.last_reply}")
    print(f"{len(entries)} queued recipient(s)")
    return 0


async def cmd_queue_retry(args: argparse.Namespace, config: Config, store: Store) -> int:
    touched = await store.spool_retry(args.ids, time.time())
    print(f"{touched} recipient(s) due now")
    return 0


if __name__ == "__main__":
    sys.exit(main())
