"""`gatekeeper log verify` and `gatekeeper log checkpoint`: the decision log's hash chain
checked, and its heads signed and exported (docs/accountability.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from gateway.cli.commands import CliError, Commands
from gateway.config import Config
from gateway.consent.erasure import erasure_key
from gateway.consent.signing import SigningError, load_public_key, sign, signing_key, verify
from gateway.store import Store
from gateway.store.chain import Anchor, Finding
from gateway.store.chain_verify import ChainCheck
from gateway.timefmt import iso_now, parse_time

CHECKPOINT_TYPE = "gatekeeper-decision-checkpoint"


def register(cmds: Commands) -> None:
    """`log verify` and `log checkpoint`, under the `log` command of cli/log.py."""
    actions = cmds.parsers["log"].add_subparsers(metavar="ACTION")
    check = cmds.command(
        "verify",
        cmd_log_verify,
        "check every instance's decision hash chain; name the first row altered, removed or "
        "inserted",
        readonly=True,
        parent=actions,
    )
    check.add_argument("--since", help="only rows from this time (ISO 8601 or 2h, 7d back)")
    check.add_argument("--checkpoint", type=Path, help="a checkpoint file the chain must reach")
    check.add_argument("--public-key", help="file or base64 of the key that signed --checkpoint")
    point = cmds.command(
        "checkpoint",
        cmd_log_checkpoint,
        "verify the chains, record and print their heads (signed with log.signing_key_file)",
        parent=actions,
    )
    point.add_argument("--out", type=Path, help="write the JSON document to FILE")


async def check_chains(
    store: Store, key: bytes, since: str | None = None, extra: list[Anchor] | None = None
) -> tuple[Finding | None, list[ChainCheck]]:
    """Every instance's chain, from its purge anchor (or genesis), against the checkpoints
    recorded in the store and `extra`; stops at the first finding."""
    legacy = await store.chain_legacy_seq()
    checks: list[ChainCheck] = []
    instances = set(await store.chain_instances()) | {a.instance for a in extra or []}
    for instance in sorted(instances):
        anchors = await store.chain_anchors(instance)
        anchors += [a for a in extra or [] if a.instance == instance]
        purges = [a for a in anchors if a.kind == "purge"]
        check = ChainCheck(
            key,
            instance,
            max(purges, key=lambda a: a.n) if purges else None,
            legacy,
            [a for a in anchors if a.kind != "purge"],
        )
        checks.append(check)
        first = True
        async for row in store.chain_rows(instance, since):
            if first and since and row.hash:
                check.start_at(row)
            first = False
            finding = check.check(row)
            if finding is not None:
                return finding, checks
        finding = check.finish()
        if finding is not None:
            return finding, checks
    return None, checks


def checkpoint_anchors(path: Path, public_key: str | None) -> list[Anchor]:
    """The heads of a checkpoint file, once its signature verifies (when a key is given)."""
    document = json.loads(path.read_bytes())
    if public_key:
        document = verify(document, load_public_key(public_key))
    else:
        print("gatekeeper: signature not checked (no --public-key)", file=sys.stderr)
    if document.get("type") != CHECKPOINT_TYPE:
        raise CliError(f"{path}: not a decision checkpoint")
    return [
        Anchor(c["instance"], int(c["rows"]), c["head"], document["time"], "checkpoint")
        for c in document["chains"]
    ]


async def cmd_log_verify(args: argparse.Namespace, config: Config, store: Store) -> int:
    extra: list[Anchor] = []
    if args.checkpoint:
        try:
            extra = checkpoint_anchors(args.checkpoint, args.public_key)
        except SigningError as exc:
            print(f"gatekeeper: {args.checkpoint}: NOT VERIFIED: {exc}", file=sys.stderr)
            return 1
        if args.public_key:
            print(f"{args.checkpoint}: signature verified")
    key = await erasure_key(store, config)
    finding, checks = await check_chains(store, key, parse_time(args.since), extra)
    if finding is not None:
        print(f"chain broken: {finding.line()}")
        return 1
    for check in checks:
        print(f"{check.instance or '-'}: {check.rows} rows intact, head at position {check.n}")
    print("decision log intact")
    return 0


async def cmd_log_checkpoint(args: argparse.Namespace, config: Config, store: Store) -> int:
    try:
        private = signing_key(config)
    except SigningError as exc:
        raise CliError(str(exc)) from exc
    finding, checks = await check_chains(store, await erasure_key(store, config))
    if finding is not None:
        raise CliError(f"no checkpoint of a broken chain: {finding.line()}")
    now = iso_now()
    document: dict[str, Any] = {
        "type": CHECKPOINT_TYPE,
        "version": 1,
        "time": now,
        "chains": [{"instance": c.instance, "rows": c.n, "head": c.head} for c in checks if c.n],
    }
    for chain in document["chains"]:
        await store.save_anchor(
            Anchor(chain["instance"], chain["rows"], chain["head"], now, "checkpoint")
        )
    result = sign(document, private)
    if private is None:
        print("gatekeeper: unsigned (log.signing_key_file is not set)", file=sys.stderr)
    text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
