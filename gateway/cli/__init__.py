"""`gatekeeper` command line: one sub-command per job, all reading the same config.

Each area registers its commands from a module of its own (serve, user, log, queue,
consent, policy); this module parses the line, loads the config, opens the store for the
commands that take one, and turns a fault into one line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from gateway.app.loop import LOOP_FACTORY
from gateway.cli import (
    consent,
    contacts_export,
    db,
    events,
    log,
    log_chain,
    policy,
    queue,
    reports,
    senders,
    serve,
    user,
)
from gateway.cli.commands import CliError, Commands
from gateway.config import Config, ConfigError, load_config
from gateway.logs import setup_logging
from gateway.startup import os_reason
from gateway.store import StoreError, open_store
from gateway.store.sqlite import sqlite_path
from gateway.store.storable import storable_text

SIGPIPE_EXIT = 141
"""128 + SIGPIPE: what a shell reports for a tool whose reader went away (`| head`)."""

logger = logging.getLogger("gatekeeper")

__all__ = ["CliError", "build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # The reader closed the pipe (`gatekeeper log | head -1`). As the Python docs
        # advise (signal module, "Note on SIGPIPE"): point stdout at devnull so the flush at
        # exit does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return SIGPIPE_EXIT


def build_parser() -> argparse.ArgumentParser:
    cmds = Commands(__doc__.splitlines()[0] if __doc__ else "")
    # log_chain and contacts_export extend the commands log and consent make
    areas = (serve, user, log, log_chain, queue, consent, contacts_export, policy, events, db)
    for area in (*areas, reports, senders):
        area.register(cmds)
    return cmds.parser


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
        if args.sync:
            return int(args.run(args, config))
        with asyncio.Runner(loop_factory=LOOP_FACTORY) as runner:
            return runner.run(run_async(args, config))
    except UnicodeEncodeError as exc:
        return fail(_undecodable(exc), 2)
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
        logger.debug("unexpected error", exc_info=True)
        return fail(f"{type(exc).__name__}: {exc} (logging.level = DEBUG shows where)", 1)


def _undecodable(exc: UnicodeEncodeError) -> str:
    """An argument's bytes that are not UTF-8 arrive as surrogates (PEP 383), which encoding
    them for the store refuses: name the text, escaped. Any other encoding fault as it is."""
    if exc.reason != "surrogates not allowed":
        return str(exc)
    return f"'{storable_text(str(exc.object))}' is not valid UTF-8"


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
