"""`contacts export` (a person's data, GDPR art. 15), `contacts proof --message-id|--decision`
(what was true when one message was decided, signed) and `contacts verify` (check such a
document with the public key alone). docs/data-requests.md describes the documents."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from gateway.addresses import canonical, check
from gateway.cli.commands import CliError, Commands
from gateway.config import Config
from gateway.consent.export import DECISION_LIMIT, PdfUnavailable, export_document, render_pdf
from gateway.consent.proof import decision_of_message, moment_document, signed
from gateway.consent.signing import SigningError, load_public_key, verify
from gateway.store import Store


def register(cmds: Commands) -> None:
    """`contacts export`, and `contacts proof` at a moment (cli/consent.py makes the group
    and the plain proof)."""
    contacts = cmds.groups["contacts"]
    proof = cmds.parsers["contacts proof"]
    add_moment_arguments(proof)
    proof.set_defaults(run=at_a_moment_or(proof.get_default("run")))
    export = cmds.command(
        "export",
        cmd_contacts_export,
        "everything held about an address (GDPR art. 15), as JSON or a readable PDF",
        parent=contacts,
        readonly=True,
    )
    export.add_argument("email")
    export.add_argument("--format", choices=("json", "pdf"), default="json")
    export.add_argument("--out", type=Path, help="write to this file (default: standard output)")
    export.add_argument(
        "--limit",
        type=int,
        default=DECISION_LIMIT,
        help=f"newest decisions listed (default and most: {DECISION_LIMIT})",
    )
    check_ = cmds.command(
        "verify",
        cmd_contacts_verify,
        "check a signed proof document with the operator's public key alone",
        parent=contacts,
        sync=True,
    )
    check_.add_argument("file", type=Path)
    check_.add_argument(
        "--public-key",
        type=Path,
        required=True,
        help="file with the public key: PEM (openssl pkey -pubout) or base64 of its 32 bytes",
    )


def add_moment_arguments(proof: argparse.ArgumentParser) -> None:
    which = proof.add_mutually_exclusive_group()
    which.add_argument(
        "--message-id", help="what was true when this message (Message-ID or queue id) was decided"
    )
    which.add_argument("--decision", type=int, help="... when this decision (its number) was taken")
    proof.add_argument("--out", type=Path, help="write to this file (default: standard output)")


def write(out: Path | None, data: bytes) -> None:
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        out.write_bytes(data)


def as_json(document: Any) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


async def cmd_contacts_export(args: argparse.Namespace, config: Config, store: Store) -> int:
    if not 0 <= args.limit <= DECISION_LIMIT:
        raise CliError(f"--limit must be from 0 to {DECISION_LIMIT}")
    address = canonical(check(args.email))
    document = await export_document(store, config, address, args.limit)
    if document is None:
        print(f"gatekeeper: nothing is held about {address}", file=sys.stderr)
        return 1
    if args.format == "pdf":
        try:
            write(args.out, render_pdf(document))
        except PdfUnavailable as exc:
            raise CliError(str(exc)) from exc
    else:
        write(args.out, as_json(document))
    return 0


def at_a_moment_or(plain: Callable[..., Awaitable[int]]) -> Callable[..., Awaitable[int]]:
    """`contacts proof` with --message-id or --decision is the signed document of that
    moment; without either, the plain consent history."""

    async def run(args: argparse.Namespace, config: Config, store: Store) -> int:
        moment = args.message_id or args.decision is not None
        return await (cmd_contacts_moment if moment else plain)(args, config, store)

    return run


async def cmd_contacts_moment(args: argparse.Namespace, config: Config, store: Store) -> int:
    """`contacts proof EMAIL --message-id ID | --decision N`: one signed document."""
    address = canonical(check(args.email))
    seq = args.decision
    if args.message_id:
        seq = await decision_of_message(store, address, args.message_id)
        if seq is None:
            print(f"gatekeeper: no decision on {args.message_id} for {address}", file=sys.stderr)
            return 1
    document = await moment_document(store, config, seq)
    if document is None or document["recipient"] != address:
        print(f"gatekeeper: decision {seq} is not about {address}", file=sys.stderr)
        return 1
    try:
        result = signed(document, config)
    except SigningError as exc:
        raise CliError(str(exc)) from exc
    if "signature" not in result:
        print("gatekeeper: unsigned (log.signing_key_file is not set)", file=sys.stderr)
    write(args.out, as_json(result))
    return 0


def cmd_contacts_verify(args: argparse.Namespace, config: Config) -> int:
    try:
        key = load_public_key(args.public_key.read_bytes())
        document = verify(json.loads(args.file.read_bytes()), key)
    except (OSError, ValueError, SigningError) as exc:
        print(f"gatekeeper: {args.file}: NOT VERIFIED: {exc}", file=sys.stderr)
        return 1
    about = document.get("recipient") or document.get("subject")
    print(
        f"{args.file}: signature verified: {document.get('format')} about {about}, "
        f"made {document.get('generated_at')}"
    )
    return 0
