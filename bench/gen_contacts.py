#!/usr/bin/env python3
"""Write a contacts CSV of N generated rows (docs/design.md §4 columns), streaming, for import tests
and benchmarks: consents for every other contact, a purchase for every third.

  python bench/gen_contacts.py OUT.csv N [--bad-line L]

--bad-line L makes CSV line L (the header is line 1) carry an invalid address.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from gateway.consent.contacts import COLUMNS

COUNTRIES = ("cz", "pl", "de", "nl", "gb", "us", "ca", "fr")


def row(n: int) -> list[str]:
    consent = n % 2 == 0
    customer = n % 3 == 0
    return [
        f"user{n}@example{n % 97}.com",
        COUNTRIES[n % len(COUNTRIES)],
        "signup-form" if consent else "checkout",
        "marketing;newsletter" if consent else "",
        "2026-01-02T03:04:05Z" if consent else "",
        "2026-01-02T03:10:00Z" if consent else "",
        f"ip=198.51.100.{n % 250};form=v2" if consent else "",
        "purchase" if customer else "",
        "2026-06-01" if customer else "",
        "books;music" if customer else "",
        "2026-10-01" if n % 5 == 0 else "",
        "partner-marketing" if n % 50 == 0 else "",
    ]


def write(path: Path, count: int, bad_line: int | None = None) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for n in range(count):
            values = row(n)
            if bad_line is not None and n + 2 == bad_line:
                values[0] = "not-an-address"
            writer.writerow(values)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("count", type=int)
    parser.add_argument("--bad-line", type=int)
    args = parser.parse_args()
    write(args.out, args.count, args.bad_line)


if __name__ == "__main__":
    main()
