"""`gatekeeper queue list|retry`: the delivery spool."""

from __future__ import annotations

import argparse
import time

from gateway.cli.commands import Commands
from gateway.config import Config
from gateway.store import Store


def register(cmds: Commands) -> None:
    queue = cmds.group("queue", "the delivery spool")
    cmds.command("list", cmd_queue_list, "show queued recipients", parent=queue, readonly=True)
    retry = cmds.command("retry", cmd_queue_retry, "make queued messages due now", parent=queue)
    retry.add_argument("ids", nargs="*", help="queue ids (default: all)")


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
