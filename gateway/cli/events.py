"""`gatekeeper events list|retry`: the events outbox to the application (docs/design.md §9)."""

from __future__ import annotations

import argparse
import time

from gateway.cli.commands import Commands
from gateway.config import Config
from gateway.store import Store

STATUSES = ("pending", "failed", "delivered")


def register(cmds: Commands) -> None:
    events = cmds.group("events", "events sent to the application's webhooks")
    listing = cmds.command(
        "list", cmd_events_list, "show events, newest first", parent=events, readonly=True
    )
    listing.add_argument("--status", choices=STATUSES, help="only events of this status")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (100)")
    retry = cmds.command(
        "retry", cmd_events_retry, "send pending or failed events again now", parent=events
    )
    retry.add_argument("ids", nargs="*", help="event ids (default: every one not delivered)")


async def cmd_events_list(args: argparse.Namespace, config: Config, store: Store) -> int:
    events = await store.events_list(args.status, args.limit)
    now = time.time()
    for e in events:
        when = e.delivered_at or (
            "due now" if e.next_attempt <= now else f"next in {int(e.next_attempt - now)}s"
        )
        print(
            f"{e.id}  {e.created_at}  {e.type}  {e.status}  attempts={e.attempts}  {when}"
            f"  {e.endpoint}  {e.last_error}".rstrip()
        )
    print(f"{len(events)} event(s)")
    return 0


async def cmd_events_retry(args: argparse.Namespace, config: Config, store: Store) -> int:
    touched = await store.events_retry(args.ids, time.time())
    print(f"{touched} event(s) due now")
    return 0
