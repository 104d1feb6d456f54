"""`gatekeeper` command line: one sub-command per job, all reading the same config."""

from __future__ import annotations

import argparse
import asyncio
import csv
import getpass
import inspect
import json
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import TextIO

from gateway.config import Config, ConfigError, load_config
from gateway.logs import setup_logging
from gateway.startup import os_reason
from gateway.store import Store, StoreError, open_store
from gateway.store.records import DECISION_FIELDS, Decision, DecisionQuery
from gateway.store.sqlite import sqlite_path

Command = Callable[..., Awaitable[int] | int]
"""(args, config) or, to get the store opened, (args, config, store); sync or async."""

DISTRIBUTION = "smtp-gatekeeper"
SIGPIPE_EXIT = 141
"""128 + SIGPIPE: what a shell reports for a tool whose reader went away (`| head`)."""

log = logging.getLogger("gatekeeper")


class CliError(Exception):
    """A fault of the command as typed (a bad value, no store yet): one line, no traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    try:
        status = _main(argv)
    except BrokenPipeError:
        # The reader closed the pipe (`gatekeeper log | head -1`). As the Python docs
        # advise (signal module, "Note on SIGPIPE"): point stdout at devnull so the flush at
        # exit does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return SIGPIPE_EXIT
    if status != 0:
        exit_despite_stray_threads(status)
    return status


def exit_despite_stray_threads(status: int) -> None:
    """A part whose set-up failed half-way can leave a non-daemon thread behind (an
    aiosqlite connection that failed before the store held it), which would keep the process
    alive after the error was printed. A fault must end the process (systemd restarts it)."""
    main_thread = threading.main_thread()
    if any(t is not main_thread and not t.daemon for t in threading.enumerate()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        getattr(args, "help_of", parser).print_help()
        return 2
    try:
        config = load_config(getattr(args, "config", None))
    except ConfigError as exc:
        return fail(exc, 2)
    setup_logging(config)
    try:
        import uvloop  # the optional extra `fast`: a quicker event loop, same semantics

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    try:
        if args.sync:
            return int(args.run(args, config))
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(run_async(args, config))
    except (ConfigError, StoreError, CliError, ValueError) as exc:
        return fail(exc, 2)
    except BrokenPipeError:
        raise
    except OSError as exc:  # a missing or unreadable file named on the command line
        where = f" ({exc.filename})" if exc.filename else ""
        return fail(f"{os_reason(exc)}{where}", 1)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line for the operator; the traceback at DEBUG
        log.debug("unexpected error", exc_info=True)
        return fail(f"{type(exc).__name__}: {exc} (logging.level = DEBUG shows where)", 1)


def fail(problem: object, status: int) -> int:
    """`gatekeeper: <problem>` as one line on stderr."""
    text = str(problem).strip().splitlines()
    print(f"gatekeeper: {text[0] if text else type(problem).__name__}", file=sys.stderr)
    return status


async def run_async(args: argparse.Namespace, config: Config) -> int:
    """A command that takes a `store` gets it opened for it and closed after; a read-only
    one only when it exists (opening would create an empty one)."""
    if not args.store:
        return int(await args.run(args, config))
    if args.readonly:
        require_store(config.store.url)
    store = open_store(config.store.url, synchronous=config.store.synchronous)
    try:
        await store.open()
        return int(await args.run(args, config, store))
    finally:
        await store.close()


def require_store(url: str) -> None:
    if not url.startswith("sqlite:///"):
        return
    path = sqlite_path(url)
    if path != ":memory:" and not Path(path).is_file():
        where = os.path.abspath(path)
        raise CliError(f"no store at {where} (run gatekeeper serve or contacts import first)")


def version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


class Commands:
    """Builds the sub-commands; every parser at every level takes `--config FILE`, so it
    may come before or after a command's name. The sub-parsers' `--config` defaults to
    SUPPRESS: given there it wins, left out it never overwrites the top-level one."""

    def __init__(self) -> None:
        self.common = argparse.ArgumentParser(add_help=False)
        self.common.add_argument(
            "--config",
            metavar="FILE",
            default=argparse.SUPPRESS,
            help="config file (default: $GATEKEEPER_CONFIG, ./gatekeeper.toml, else built-in "
            "defaults)",
        )
        self.parser = argparse.ArgumentParser(
            prog="gatekeeper", description=__doc__, parents=[self.common]
        )
        self.parser.add_argument("--version", action="version", version=f"gatekeeper {version()}")
        self.top = self.parser.add_subparsers(metavar="COMMAND")

    def group(self, name: str, help: str) -> argparse._SubParsersAction:
        p = self.top.add_parser(name, help=help, description=help, parents=[self.common])
        p.set_defaults(help_of=p)
        return p.add_subparsers(metavar="ACTION")

    def command(
        self,
        name: str,
        run: Command,
        help: str,
        *,
        sync: bool = False,
        readonly: bool = False,
        parent: argparse._SubParsersAction | None = None,
    ) -> argparse.ArgumentParser:
        p = (parent or self.top).add_parser(
            name, help=help, description=help, parents=[self.common]
        )
        p.set_defaults(
            run=run,
            sync=sync,
            readonly=readonly,
            store="store" in inspect.signature(run).parameters,
        )
        return p


def build_parser() -> argparse.ArgumentParser:
    cmds = Commands()
    command = cmds.command
    command("serve", cmd_serve, "run the SMTP listener, HTTP server and delivery workers")

    user = cmds.group("user", "SMTP logins")
    add = command(
        "add",
        cmd_user_add,
        "make a password hash and print the config lines",
        sync=True,
        parent=user,
    )
    add.add_argument("name")
    add.add_argument("--scheme", choices=["argon2", "scrypt"], default="argon2")
    add.add_argument("--purpose")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of prompting",
    )

    log_cmd = command("log", cmd_log, "print decisions, oldest first", readonly=True)
    add_decision_filters(log_cmd)
    log_cmd.add_argument("--format", choices=["table", "json", "csv"], default="table")
    log_cmd.add_argument("--follow", "-f", action="store_true", help="keep printing new rows")
    log_cmd.add_argument("--limit", type=int, default=0, help="at most N rows (0: all)")

    queue = cmds.group("queue", "the delivery spool")
    command("list", cmd_queue_list, "show queued recipients", parent=queue, readonly=True)
    retry = command("retry", cmd_queue_retry, "make queued messages due now", parent=queue)
    retry.add_argument("ids", nargs="*", help="queue ids (default: all)")

    from gateway.cli_consent import register

    register(cmds)
    return cmds.parser


def add_decision_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", help="ISO 8601 time or a duration back from now (2h, 7d)")
    p.add_argument("--until", help="ISO 8601 time or a duration back from now")
    for name in ("action", "reason", "recipient", "purpose", "jurisdiction", "sender", "phase"):
        p.add_argument(f"--{name}")
    p.add_argument("--message-id", help="Message-ID header (no <>) or queue id")


def decision_query(args: argparse.Namespace) -> DecisionQuery:
    return DecisionQuery(
        since=parse_time(args.since),
        until=parse_time(args.until, "--until"),
        action=args.action,
        reason=args.reason,
        recipient=args.recipient.lower() if args.recipient else None,
        purpose=args.purpose,
        jurisdiction=args.jurisdiction.lower() if args.jurisdiction else None,
        sender=args.sender,
        phase=args.phase,
        message_id=args.message_id.strip("<>") if args.message_id else None,
    )


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_time(text: str | None, option: str = "--since") -> str | None:
    """A bound for the `time` column, in its own sortable form: a duration back from now
    (a unit is required: `2025` is the year, not 2025 seconds) or an ISO 8601 date/time."""
    if not text:
        return None
    text = text.strip()
    match = _DURATION.fullmatch(text)
    if match:
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
        moment = datetime.now(UTC) - timedelta(seconds=seconds)
    else:
        moment = _iso_moment(text, option)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso_moment(text: str, option: str) -> datetime:
    if re.fullmatch(r"\d{4}", text):
        text += "-01-01"
    elif re.fullmatch(r"\d{4}-\d{2}", text):
        text += "-01"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(
            f"{option} {text!r}: expected a duration with a unit (45s, 30m, 2h, 7d) or an "
            "ISO 8601 date or time (2025, 2025-01-01, 2025-01-01T12:00Z)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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
        print(
            f"{e.id}  {e.recipient}  from <{e.sender}>  {e.size} bytes  attempts={e.attempts}"
            f"  next={due}  {e.last_reply}"
        )
    print(f"{len(entries)} queued recipient(s)")
    return 0


async def cmd_queue_retry(args: argparse.Namespace, config: Config, store: Store) -> int:
    touched = await store.spool_retry(args.ids, time.time())
    print(f"{touched} recipient(s) due now")
    return 0


if __name__ == "__main__":
    sys.exit(main())
