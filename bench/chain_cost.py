"""CPU cost of the decision hash chain per decision row (docs/performance.md, issue 15).

What the writer adds per row: the link (two keyed address digests, the detail's addresses
normalised, one SHA-256), measured in process CPU time (the machine is shared). The rows are
the relay bench's: a fresh recipient per row, one sender per message of 10 recipients.

    .venv/bin/python -m bench.chain_cost [ROWS]
"""

from __future__ import annotations

import sys
import time

from gateway.store.chain import Link, subject
from gateway.store.records import Decision, iso_now


def rows(count: int, detail: str) -> list[Decision]:
    now = iso_now()
    return [
        Decision(
            time=now,
            phase="rcpt",
            action="allow",
            recipient=f"user{i}@example.org",
            instance="mx1/a",
            session_id=f"s{i // 10}",
            message_id=f"<m{i // 10}@shop.example>",
            client="192.0.2.1",
            sender=f"news{i // 10}@shop.example",
            purpose="marketing",
            jurisdiction="CZ",
            basis="consent",
            rule="cz.consent",
            cite="§7 zákona 480/2004 Sb.",
            queue_id=f"q{i // 10}",
            detail=detail.format(i=i),
        )
        for i in range(count)
    ]


def cost(count: int, detail: str) -> float:
    batch = rows(count, detail)
    subject.cache_clear()
    link = Link(b"k" * 32)
    start = time.process_time()
    for decision in batch:
        link.link(decision)
    return (time.process_time() - start) / count * 1e6


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    for label, detail in (
        ("no detail", ""),
        ("detail without address", "250 2.0.0 Ok: queued as {i}"),
        ("detail with an address", "550 5.1.1 <user{i}@example.org>: unknown"),
    ):
        best = min(cost(count, detail) for _ in range(3))
        print(f"{label:28} {best:6.2f} µs CPU per row ({count} rows, best of 3)")


if __name__ == "__main__":
    main()
