"""Reports ingested per second: `gatekeeper reports ingest` over a Maildir of N reports.

The Maildir is made from the report corpus (tests/data/reports: DSNs, ARF complaints,
non-standard bounces, auto-replies, 2.1 KB on average), cycled to N messages; the command
runs as a user runs it, a process of its own, on a fresh SQLite store. Not run in CI:

    python3 -m bench.reports_ingest --count 10000 --dir /tmp/gk-reports
"""

from __future__ import annotations

import argparse
import itertools
import mailbox
import shutil
import subprocess
import sys
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "reports"


def make_maildir(target: Path, count: int) -> Path:
    files = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".eml", ".txt"))
    box = mailbox.Maildir(target / "Maildir")
    for source in itertools.islice(itertools.cycle(files), count):
        box.add(source.read_bytes())
    return target / "Maildir"


def ingest(target: Path, maildir: Path, synchronous: str) -> float:
    store = target / "gatekeeper.db"
    for leftover in target.glob("gatekeeper.db*"):
        leftover.unlink()
    config = target / "gatekeeper.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{store}"\nsynchronous = "{synchronous}"\n')
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "gateway", "reports", "ingest", "--quiet", str(maildir),
         "--config", str(config)],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/gk-reports"))
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    args.dir.mkdir(parents=True)
    maildir = make_maildir(args.dir, args.count)
    for synchronous in ("FULL", "NORMAL"):
        seconds = ingest(args.dir, maildir, synchronous)
        print(
            f"{args.count} reports, synchronous={synchronous}: {seconds:.1f} s, "
            f"{args.count / seconds:.0f} reports/s"
        )


if __name__ == "__main__":
    main()
