"""What every command area builds on: the sub-command table (each parser takes `--config`)
and the one-line fault a command raises."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Awaitable, Callable
from importlib import metadata

Command = Callable[..., Awaitable[int] | int]
"""(args, config) or, to get the store opened, (args, config, store); sync or async."""

DISTRIBUTION = "smtp-gatekeeper"


class CliError(Exception):
    """A fault of the command as typed (a bad value, no store yet): one line, no traceback."""


def version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


class Commands:
    """Builds the sub-commands; every parser at every level takes `--config FILE` from one
    parent parser, so it may come before or after a command's name. The sub-parsers'
    `--config` defaults to SUPPRESS: given there it wins, left out it never overwrites the
    top-level one."""

    def __init__(self, description: str) -> None:
        self.common = argparse.ArgumentParser(add_help=False)
        self.common.add_argument(
            "--config",
            metavar="FILE",
            default=argparse.SUPPRESS,
            help="config file (default: $GATEKEEPER_CONFIG, ./gatekeeper.toml, else built-in "
            "defaults)",
        )
        self.parser = argparse.ArgumentParser(
            prog="gatekeeper", description=description, parents=[self.common]
        )
        self.parser.add_argument("--version", action="version", version=f"gatekeeper {version()}")
        self.top = self.parser.add_subparsers(metavar="COMMAND")
        self.groups: dict[str, argparse._SubParsersAction] = {}
        self.parsers: dict[str, argparse.ArgumentParser] = {}
        """Every command by its words ("contacts proof"): an area may extend another's."""

    def group(self, name: str, help: str) -> argparse._SubParsersAction:
        p = self.top.add_parser(name, help=help, description=help, parents=[self.common])
        p.set_defaults(help_of=p)
        self.groups[name] = p.add_subparsers(metavar="ACTION")
        return self.groups[name]

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
        self.parsers[p.prog.removeprefix(self.parser.prog).strip()] = p
        return p
