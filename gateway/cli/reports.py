"""`gatekeeper reports ingest FILE…`: reports that landed in a mailbox elsewhere, applied
exactly as if they had arrived at the report mailbox (docs/design.md §8).

A FILE is one message, an mbox (it starts with a `From ` line) or a Maildir directory (its
`cur` and `new`). Each report is printed with what was done; the exit status is 0 unless a
file cannot be read (the others are still applied).
"""

from __future__ import annotations

import argparse
import logging
import mailbox
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

from gateway.cli.commands import Commands
from gateway.config import Config
from gateway.consent.erasure import erasure_key
from gateway.pipeline.audit import Audit
from gateway.pipeline.brake import Brake
from gateway.pipeline.report_mailbox import describe
from gateway.pipeline.report_outcomes import ReportIntake, report_keys
from gateway.pipeline.writer import Writer
from gateway.reports import MAX_BYTES, parse
from gateway.store import Store

log = logging.getLogger(__name__)

SOURCE = "ingest"
MBOX_START = b"From "
"""The mbox separator line (RFC 4155) a file in that format starts with."""


def register(cmds: Commands) -> None:
    reports = cmds.group("reports", "bounces, complaints and other reports that come back")
    ingest = cmds.command(
        "ingest",
        cmd_reports_ingest,
        "apply reports from files: single messages, mbox files, Maildir directories",
        parent=reports,
    )
    ingest.add_argument("files", nargs="+", metavar="FILE", help="message, mbox or Maildir")
    ingest.add_argument("--quiet", action="store_true", help="print only the totals")


async def cmd_reports_ingest(args: argparse.Namespace, config: Config, store: Store) -> int:
    writer = Writer(store)
    writer.chain_key = await erasure_key(store, config)  # the decision chain's digests
    writer.start()
    try:
        audit = Audit(writer, instance=socket.getfqdn())
        brake = Brake(store, config.complaints)
        intake = ReportIntake(store, writer, audit, config.bounces, await report_keys(store), brake)
        status, count = 0, 0
        for name in args.files:
            try:
                for label, data in messages(Path(name)):
                    report = parse(data)
                    applied = await intake.apply(report, source=SOURCE)
                    count += 1
                    if not args.quiet:
                        done = "; ".join(describe(a) for a in applied) or "nothing to apply"
                        print(f"{label}: {report.kind}: {done}")
            except OSError as exc:
                print(f"gatekeeper: cannot read {name}: {exc.strerror or exc}", file=sys.stderr)
                status = 1
        await writer.flush()
        await brake.evaluate()  # a pause reaches running gateways from the store
    finally:
        await writer.stop()
    print(f"{count} report(s) ingested")
    return status


def messages(path: Path) -> Iterator[tuple[str, bytes]]:
    """(label, bytes) of every message in a file or Maildir; OSError when unreadable."""
    if path.is_dir():
        if not (path / "cur").is_dir() or not (path / "new").is_dir():
            raise NotADirectoryError(0, "a directory must be a Maildir (cur/ and new/)")
        box = mailbox.Maildir(path, factory=None, create=False)
        for key in sorted(box.iterkeys()):
            with box.get_file(key) as handle:
                yield f"{path}/{key}", handle.read(MAX_BYTES)
        return
    with path.open("rb") as handle:
        head = handle.read(len(MBOX_START))
    if head != MBOX_START:
        with path.open("rb") as handle:
            yield str(path), handle.read(MAX_BYTES)
        return
    mbox = mailbox.mbox(path, factory=None, create=False)
    for number, key in enumerate(mbox.iterkeys(), start=1):
        yield f"{path}#{number}", mbox.get_bytes(key)[:MAX_BYTES]
