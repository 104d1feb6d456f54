"""Consent-side commands: `contacts import|show|proof`, `forget`, `purge` and
`suppress add|remove|list|import`."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from gateway.addresses import canonical, check, erased_key
from gateway.cli.commands import Commands
from gateway.config import Config
from gateway.consent.contacts import RowError, check_scope, read_contacts, read_csv
from gateway.consent.erasure import erasure_key
from gateway.consent.proof import proof_document
from gateway.pipeline.classify import Classification
from gateway.pipeline.decide import Decider, message_facts
from gateway.pipeline.report_outcomes import report_lines
from gateway.policy import Verdict
from gateway.policy.vocab import MANUAL_SUPPRESSION_REASONS, PURPOSES
from gateway.startup import load_configured_policies
from gateway.store import Store
from gateway.store.records import ContactView, SuppressionEntry
from gateway.timefmt import iso_now, parse_time

SUPPRESS_CHUNK = 5000
PAGE = 1000
TOPICAL = ("survey", "greeting", "consent-request", "marketing")
"""Purposes whose consent is given per topic (partner mail is per partner)."""


def register(cmds: Commands) -> None:
    _register_contacts(cmds)
    _register_suppress(cmds)


def _register_contacts(cmds: Commands) -> None:
    command = cmds.command
    contacts = cmds.group("contacts", "the consent database")
    imp = command(
        "import", cmd_contacts_import, "import contacts from CSV (all or nothing)", parent=contacts
    )
    imp.add_argument("file", type=Path)
    show = command(
        "show",
        cmd_contacts_show,
        "everything known about an address, and the verdict for each purpose",
        parent=contacts,
        readonly=True,
    )
    show.add_argument("email")
    show.add_argument(
        "--topic",
        action="append",
        default=[],
        help="also the verdicts for mail of this topic (default: the topics "
        "the contact consented to)",
    )
    proof = command(
        "proof",
        cmd_contacts_proof,
        "the full consent history with proof, as JSON (access requests, audits); with "
        "--message-id or --decision: what was true then, as one signed document",
        parent=contacts,
        readonly=True,
    )
    proof.add_argument("email")
    forget = command(
        "forget", cmd_forget, "erase an address, keeping a keyed hash that keeps it suppressed"
    )
    forget.add_argument("email")
    command("purge", cmd_purge, "apply retention: old decisions, consents of inactive contacts")


def _register_suppress(cmds: Commands) -> None:
    command = cmds.command
    suppress = cmds.group("suppress", "the suppression list")
    add = command("add", cmd_suppress_add, "suppress an address", parent=suppress)
    add.add_argument("email")
    add.add_argument("--scope", default="all", help="all, a purpose or a topic (default all)")
    add.add_argument("--reason", default="unsubscribed", choices=MANUAL_SUPPRESSION_REASONS)
    remove = command("remove", cmd_suppress_remove, "lift suppressions", parent=suppress)
    remove.add_argument("email")
    remove.add_argument("--scope", help="only this scope (default: every scope)")
    listing = command(
        "list", cmd_suppress_list, "list suppressions", parent=suppress, readonly=True
    )
    listing.add_argument("--limit", type=int, default=0)
    bulk = command(
        "import",
        cmd_suppress_import,
        "import a CSV with columns email[,scope,reason] (all or nothing)",
        parent=suppress,
    )
    bulk.add_argument("file", type=Path)


async def cmd_contacts_import(args: argparse.Namespace, config: Config, store: Store) -> int:
    try:
        counts = await store.import_contacts(read_contacts(args.file))
    except RowError as exc:
        print(f"gatekeeper: {args.file}: {exc}; nothing was imported", file=sys.stderr)
        return 1
    print(
        f"imported {counts.rows} rows: {counts.contacts_new} new contacts, "
        f"{counts.consent_events} consent events, {counts.suppressions} suppressions"
    )
    return 0


async def cmd_contacts_show(args: argparse.Namespace, config: Config, store: Store) -> int:
    address = canonical(check(args.email))
    policies = load_configured_policies(config)
    view = await store.contact(address)
    if view is None:
        print(f"{address}: no contact record and no suppression")
    else:
        _print_view(view)
    for line in await report_lines(store, address):
        print(f"report    {line}")
    decider = Decider(store, policies, config, await erasure_key(store, config))
    print("\nverdicts (content rules are checked when a message is sent):")
    for purpose, topic, verdict in await contact_verdicts(decider, address, args.topic):
        why = verdict.basis if verdict.allowed else verdict.reason
        print(
            f"  {purpose:18} {topic or '-':16} {verdict.action:5} {why:24} "
            f"{verdict.jurisdiction:3} {verdict.rule}  [{verdict.cite}]"
        )
    return 0


async def contact_verdicts(
    decider: Decider, address: str, topics: Sequence[str] = ()
) -> list[tuple[str, str | None, Verdict]]:
    """The verdict per purpose, through the live path (message_facts, Decider.verdicts), for
    mail without a topic and for each topic the contact consented to (or `topics`): consent
    counts per topic, so a contact whose only consent is `newsletter` has none for
    topic-less marketing and a (maybe unconfirmed) one for newsletter mail."""
    facts = (await decider.facts([address]))[address]
    wanted = list(dict.fromkeys([*(c.topic.lower() for c in facts.consents), *topics]))
    rows: list[tuple[str, str | None, Verdict]] = []
    for topic in [None, *wanted]:
        for purpose in PURPOSES if topic is None else TOPICAL:
            message = message_facts(Classification(purpose, "check", topic=topic), None, None)
            rows.append((purpose, topic, decider.decide({address: facts}, message)[address]))
    return rows


def _print_view(view: ContactView) -> None:
    print(f"contact   {view.address} (as given: {view.original or '-'})")
    print(
        f"country   {view.country or '-'}   source {view.source or '-'}   created "
        f"{view.created_at or '-'}   last engaged {view.last_engaged_at or '-'}"
    )
    for consent in view.consents:
        print("consent   " + "  ".join(f"{k}={v}" for k, v in consent.items() if v))
    for relationship in view.relationships:
        print("customer  " + "  ".join(f"{k}={v}" for k, v in relationship.items() if v))
    for s in view.suppressions:
        print(f"suppressed scope={s.scope} reason={s.reason} source={s.source} at {s.created_at}")
    for e in view.events:
        print(f"event     {e.at} {e.kind} {e.topic} source={e.source} {e.proof}".rstrip())


async def cmd_contacts_proof(args: argparse.Namespace, config: Config, store: Store) -> int:
    address = canonical(check(args.email))
    view = await store.contact(address)
    if view is None:
        print(f"gatekeeper: nothing is known about {address}", file=sys.stderr)
        return 1
    print(json.dumps(proof_document(view), indent=2, ensure_ascii=False))
    return 0


async def cmd_forget(args: argparse.Namespace, config: Config, store: Store) -> int:
    address = canonical(check(args.email))
    hashed = erased_key(await erasure_key(store, config), address)
    touched = await store.forget(address, hashed)
    summary = ", ".join(f"{table} {n}" for table, n in touched.items() if n)
    print(f"{address} erased ({summary or 'nothing held'}); suppressed as {hashed}")
    return 0


async def cmd_purge(args: argparse.Namespace, config: Config, store: Store) -> int:
    retention = config.retention
    decisions_before = parse_time(f"{retention.decisions_days}d")
    inactive_before = parse_time(f"{retention.inactive_days}d")
    assert decisions_before is not None and inactive_before is not None
    counts = await store.purge(decisions_before, inactive_before, iso_now())
    print(
        f"purged {counts['decisions']} decisions older than {retention.decisions_days} "
        f"days; expired {counts['consents_expired']} consents of contacts inactive for "
        f"{retention.inactive_days} days"
    )
    return 0


async def cmd_suppress_add(args: argparse.Namespace, config: Config, store: Store) -> int:
    entry = SuppressionEntry(
        canonical(check(args.email)), check_scope(args.scope), args.reason, "cli", iso_now()
    )
    added = await store.suppress([entry])
    print(
        f"{entry.address}: {'suppressed' if added else 'already suppressed'} "
        f"(scope {entry.scope}, reason {entry.reason})"
    )
    return 0


async def cmd_suppress_remove(args: argparse.Namespace, config: Config, store: Store) -> int:
    address = canonical(check(args.email))
    scope = check_scope(args.scope) if args.scope else None
    removed = await store.unsuppress(address, scope)
    print(f"{address}: {removed} suppression(s) removed")
    return 0 if removed else 1


async def cmd_suppress_list(args: argparse.Namespace, config: Config, store: Store) -> int:
    writer = csv.writer(sys.stdout)
    writer.writerow(["email", "scope", "reason", "source", "created_at"])
    after, shown = None, 0
    while True:
        page = await store.suppressions(limit=PAGE, after=after)
        for s in page:
            writer.writerow([s.address, s.scope, s.reason, s.source, s.created_at])
            shown += 1
            if args.limit and shown >= args.limit:
                return 0
        if len(page) < PAGE:
            return 0
        after = (page[-1].address, page[-1].scope, page[-1].reason)


def read_suppressions(path: Path) -> Iterator[SuppressionEntry]:
    """The CSV dialect of contacts import: `;` or `,`, a BOM, header names in any case."""
    now = iso_now()
    for line, record in read_csv(path, ("email", "scope", "reason"), "email[,scope,reason]"):
        try:
            reason = (record.get("reason") or "unsubscribed").strip().lower()
            if reason not in MANUAL_SUPPRESSION_REASONS:
                raise ValueError(f"unknown reason {reason!r}")
            yield SuppressionEntry(
                canonical(check((record.get("email") or "").strip())),
                check_scope(record.get("scope") or "all"),
                reason,
                "import",
                now,
            )
        except ValueError as exc:
            raise RowError(line, str(exc)) from exc


async def cmd_suppress_import(args: argparse.Namespace, config: Config, store: Store) -> int:
    try:
        total = sum(1 for _ in read_suppressions(args.file))  # check everything first
    except RowError as exc:
        print(f"gatekeeper: {args.file}: {exc}; nothing was imported", file=sys.stderr)
        return 1
    added, chunk = 0, []
    for entry in read_suppressions(args.file):
        chunk.append(entry)
        if len(chunk) >= SUPPRESS_CHUNK:
            added += await store.suppress(chunk)
            chunk = []
    added += await store.suppress(chunk) if chunk else 0
    print(f"{total} rows, {added} new suppressions")
    return 0
