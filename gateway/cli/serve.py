"""`gatekeeper serve`: the listener, HTTP server and delivery workers in one process."""

from __future__ import annotations

import argparse

from gateway.app import serve
from gateway.cli.commands import Commands
from gateway.config import Config


def register(cmds: Commands) -> None:
    cmds.command("serve", cmd_serve, "run the SMTP listener, HTTP server and delivery workers")


async def cmd_serve(args: argparse.Namespace, config: Config) -> int:
    await serve(config)
    return 0
