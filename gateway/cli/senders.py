"""`gatekeeper senders list|resume`: complaint rates per sender domain and the brake that
pauses a domain's non-transactional mail (docs/design.md §8)."""

from __future__ import annotations

import argparse

from gateway.cli.commands import CliError, Commands
from gateway.config import Config
from gateway.pipeline.brake import Brake
from gateway.store import Store
from gateway.store.records import iso_now


def register(cmds: Commands) -> None:
    senders = cmds.group("senders", "sender domains: complaint rates and paused mail")
    cmds.command(
        "list",
        cmd_senders_list,
        "complaint rate per sender domain over 24 h, and which are paused",
        parent=senders,
    )
    resume = cmds.command(
        "resume",
        cmd_senders_resume,
        "lift the complaint-rate pause of a sender domain",
        parent=senders,
    )
    resume.add_argument("domain", help="the sender domain, as `senders list` names it")


async def cmd_senders_list(args: argparse.Namespace, config: Config, store: Store) -> int:
    rates = await Brake(store, config.complaints).evaluate()
    paused = {p.domain: p for p in await store.sender_pauses() if not p.resumed_at}
    for rate in rates:
        state = f"PAUSED since {paused[rate.domain].paused_at}" if rate.domain in paused else ""
        print(
            f"{rate.domain:30} delivered={rate.delivered} complaints={rate.complaints} "
            f"rate={rate.rate:.3%} sender-side={rate.sender_side} {state}".rstrip()
        )
    for domain in sorted(paused.keys() - {r.domain for r in rates}):
        print(f"{domain:30} PAUSED since {paused[domain].paused_at}")
    print(
        f"thresholds: warn {config.complaints.warn_rate:.3%}, pause "
        f"{config.complaints.pause_rate:.3%} with at least {config.complaints.min_volume} "
        "deliveries"
    )
    return 0


async def cmd_senders_resume(args: argparse.Namespace, config: Config, store: Store) -> int:
    domain = args.domain.strip().lower().lstrip("@")
    if not await store.resume_sender(domain, iso_now()):
        raise CliError(f"{domain} is not paused (see: gatekeeper senders list)")
    print(
        f"{domain} resumed: its non-transactional mail is taken again (running gateways see "
        "it within seconds); only complaints from now on count toward another pause"
    )
    return 0
