"""`gatekeeper policy show|lint` and `gatekeeper check`: the rules, and what they decide
for a message on disk (a dry run through the live pipeline's stages, nothing sent)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gateway.addresses import check
from gateway.cli.commands import Commands
from gateway.config import Config, ConfigError
from gateway.consent.erasure import erasure_key
from gateway.pipeline.classify import Classification, classify_message, stream_for
from gateway.pipeline.content import ContentReader
from gateway.pipeline.decide import Decider, engine_settings, message_facts
from gateway.pipeline.receive import parse_headers
from gateway.pipeline.replay import replay
from gateway.pipeline.shadow import recorded_summary, summary_lines
from gateway.pipeline.transform.personalize import Personalizer
from gateway.policy import Verdict, describe, lint
from gateway.startup import load_checked_policies, load_configured_policies, policy_directory
from gateway.store import Store
from gateway.timefmt import parse_time


def register(cmds: Commands) -> None:
    check_cmd = cmds.command("check", cmd_check, "dry run: the verdict for each recipient and why")
    check_cmd.add_argument("message", type=Path)
    check_cmd.add_argument("--to", nargs="+", required=True, metavar="ADDR")
    check_cmd.add_argument(
        "--from", dest="sender", default="", help="envelope sender (selects a stream)"
    )
    check_cmd.add_argument("--user", help="AUTH user (selects its stream)")
    check_cmd.add_argument("--format", choices=["table", "json"], default="table")

    policy = cmds.group("policy", "jurisdiction policies")
    show = cmds.command(
        "show",
        cmd_policy_show,
        "print a policy's rules with ids and citations",
        parent=policy,
        sync=True,
    )
    show.add_argument("code")
    cmds.command("lint", cmd_policy_lint, "check the policy files", parent=policy, sync=True)
    diff = cmds.command(
        "diff",
        cmd_policy_diff,
        "what the shadow policy set (policy.shadow_directory) decided otherwise",
        parent=policy,
        readonly=True,
    )
    diff.add_argument("--since", default="7d", help="duration back (7d) or ISO time")
    replay = cmds.command(
        "replay",
        cmd_policy_replay,
        "decide recorded traffic again under a candidate policy directory, offline",
        parent=policy,
        readonly=True,
    )
    replay.add_argument("--directory", type=Path, required=True, help="the candidate set")
    replay.add_argument("--since", default="30d", help="duration back (30d) or ISO time")


async def cmd_check(args: argparse.Namespace, config: Config, store: Store) -> int:
    data = args.message.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    policies = load_configured_policies(config)
    recipients = [check(a) for a in args.to]
    decider = Decider(store, policies, config, await erasure_key(store, config))
    purpose, topic = _stream(config, args.user, args.sender)
    headers = parse_headers(data)
    reader = ContentReader.from_config(config)
    classification, findings = classify_message(config, reader, data, headers, purpose, topic)
    personalizer = Personalizer.from_config(config, config.smtp.hostname or "localhost")
    footer = personalizer.adds_footer(classification.purpose != "transactional", findings)
    facts = message_facts(classification, headers, reader.as_sent(findings, footer))
    verdicts = await decider.verdicts(recipients, facts)
    print_check(args.format, classification, verdicts)
    return 0 if all(v.allowed for v in verdicts.values()) else 1


def _stream(config: Config, user_name: str | None, sender: str) -> tuple[str | None, str | None]:
    user = next((u for u in config.smtp.users if u.name == user_name), None)
    if user_name and user is None:
        raise ConfigError(f"{config.source}: no smtp.users entry named {user_name!r}")
    return stream_for(config, user, sender)


def print_check(fmt: str, classification: Classification, verdicts: dict[str, Verdict]) -> None:
    if fmt == "json":
        for address, v in verdicts.items():
            print(json.dumps(_check_record(address, classification, v), ensure_ascii=False))
        return
    print(
        f"purpose {classification.purpose} ({classification.origin})"
        f"{'  topic ' + classification.topic if classification.topic else ''}"
    )
    for note in classification.notes:
        print(f"  note: {note}")
    for address, v in verdicts.items():
        why = v.basis if v.allowed else v.reason
        print(f"{address}: {v.action} {why} [{v.jurisdiction}] rule {v.rule} — {v.cite}")
        for line in v.detail:
            print(f"    {line}")


def _check_record(address: str, classification: Classification, v: Verdict) -> dict[str, object]:
    return {
        "recipient": address,
        "purpose": classification.purpose,
        "topic": classification.topic,
        "jurisdiction": v.jurisdiction,
        "action": v.action,
        "basis": v.basis,
        "reason": v.reason,
        "rule": v.rule,
        "cite": v.cite,
        "detail": [*classification.notes, *v.detail],
    }


def cmd_policy_show(args: argparse.Namespace, config: Config) -> int:
    policies = load_configured_policies(config)
    code = args.code.lower()
    if code not in policies:
        print(
            f"gatekeeper: no policy {code!r}; have {', '.join(sorted(policies))}", file=sys.stderr
        )
        return 1
    print(describe(policies[code]))
    return 0


def cmd_policy_lint(args: argparse.Namespace, config: Config) -> int:
    directory = policy_directory(config)
    problems = lint(directory)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{directory}: {'OK' if not problems else f'{len(problems)} problem(s)'}")
    return 1 if problems else 0


async def cmd_policy_diff(args: argparse.Namespace, config: Config, store: Store) -> int:
    """The recorded `shadow` rows since a time, summarised beside the decisions compared."""
    since = parse_time(args.since)
    if not config.policy.shadow_directory:
        print("note: policy.shadow_directory is not set: no new shadow rows are recorded")
    summary = await recorded_summary(store, since)
    print("\n".join(summary_lines(summary, f"since {since}")))
    return 0


async def cmd_policy_replay(args: argparse.Namespace, config: Config, store: Store) -> int:
    """Recorded decisions since a time decided again under `--directory`: the summary of
    `policy diff`, live verdict as recorded against the candidate's."""
    live = load_configured_policies(config)
    candidate = load_checked_policies(config, args.directory)
    since = parse_time(args.since)
    summary = await replay(store, live, candidate, engine_settings(config), since)
    print("\n".join(summary_lines(summary, f"{args.directory} since {since}")))
    return 0
