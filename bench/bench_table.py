"""The one-line-per-workload table of run_all.sh (issue 14), from its raw lines.

  python3 -m bench.bench_table bench/results/TIMESTAMP.txt

Raw lines are `NAME key=value …` (run_bench.sh's line behind the name, or a probe's); `#`
lines are comments. A rate marked `*` did not have every message at the sink in time.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

Raw = dict[str, dict[str, str]]
HEADER = f"{'workload':<44} {'reference':>11} {'gatekeeper':>15} {'ratio':>6}  {'target':<18} met"


def parse(path: Path) -> Raw:
    raw: Raw = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, *fields = line.split()
        raw[name] = dict(f.split("=", 1) for f in fields if "=" in f)
    return raw


def num(raw: Raw, name: str, key: str) -> float:
    try:
        return float(raw[name][key])
    except (KeyError, ValueError):
        return math.nan


def rate(raw: Raw, name: str) -> tuple[float, str]:
    """Delivered per second, and `*` unless everything expected reached the sink."""
    value = num(raw, name, "msgs_per_s")
    whole = num(raw, name, "delivered") >= num(raw, name, "expected")
    return value, "" if whole or math.isnan(value) else "*"


def fmt(value: float, mark: str = "", width: int = 11) -> str:
    text = "-" if math.isnan(value) else f"{value:,.1f}{mark}"
    return f"{text:>{width}}"


def fixed(value: float, digits: int, suffix: str = "") -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}{suffix}"


def line(label: str, ref: str, value: str, ratio: str, target: str, ok: bool | None) -> str:
    met = "-" if ok is None else ("yes" if ok else "NO")
    return f"{label:<44} {ref:>11} {value:>15} {ratio:>6}  {target:<18} {met}"


def ratio_line(
    label: str, ref: tuple[float, str], gk: tuple[float, str], need: float | None, target: str
) -> str:
    ratio = gk[0] / ref[0] if ref[0] else math.nan
    ok = None if need is None or math.isnan(ratio) or gk[1] else ratio >= need
    return line(label, fmt(*ref), fmt(*gk), fixed(ratio, 2), target, ok)


def latency_line(raw: Raw) -> str:
    p50, p99 = num(raw, "w4", "added_p50_ms"), num(raw, "w4", "added_p99_ms")
    errors = num(raw, "w4", "gw_errors") + num(raw, "w4", "direct_errors")
    ok = None if math.isnan(p50) else (p50 < 3 and p99 < 15 and errors == 0)
    label = f"4 added latency at {fixed(num(raw, 'w4', 'rate'), 0)}/s, p50/p99 ms"
    direct = "/".join(fixed(num(raw, "w4", f"direct_{p}_ms"), 2) for p in ("p50", "p99"))
    return line(label, direct, f"{fixed(p50, 2)}/{fixed(p99, 2)}", "-", "< 3 / < 15", ok)


def memory_line(raw: Raw) -> str:
    peak = num(raw, "w1.rss", "rss_peak_mb")
    growth_x = num(raw, "w5.big", "growth_x")
    checks = [
        peak < 250 if not math.isnan(peak) else None,
        growth_x < 2 if not math.isnan(growth_x) else None,
    ]
    ok = None if all(c is None for c in checks) else all(c is not False for c in checks)
    value = f"{fixed(peak, 0)} / {fixed(growth_x, 2, 'x')}"
    label = "5 peak RSS in w1 MB / 20 MB message growth"
    return line(label, "-", value, "-", "< 250 MB / < 2x", ok)


FLOORS = (
    ("floor: bare aiosmtpd relay", "floor"),
    ("floor: lean Protocol relay", "lean"),
    ("gateway SMTP layer alone", "smtplayer"),
)
"""Workload 0's relays (run_all.sh), each at 1 and at 10 recipients: lines 0.1 to 0.6."""


def _floor_lines(raw: Raw) -> list[str]:
    """Workload 0 against Postfix at the same number of recipients; no target."""
    runs = [(label, name, n) for label, name in FLOORS for n in (1, 10)]
    return [
        ratio_line(
            f"0.{i} {label}, {n} rcpt",
            rate(raw, f"postfix.r{n}"),
            rate(raw, f"{name}.r{n}"),
            None,
            "(none)",
        )
        for i, (label, name, n) in enumerate(runs, start=1)
    ]


def table(raw: Raw) -> list[str]:
    w1 = rate(raw, "w1")
    lines = [
        HEADER,
        *_floor_lines(raw),
        ratio_line(
            "1 1 rcpt, full path, big store (vs Postfix)",
            rate(raw, "postfix.r1"),
            w1,
            2.0,
            ">= 2.00 x Postfix",
        ),
        ratio_line(
            "2 10 rcpt, transactional (vs Postfix)",
            rate(raw, "postfix.r10"),
            rate(raw, "w2"),
            1.5,
            ">= 1.50 x Postfix",
        ),
        ratio_line(
            "3 10 rcpt, marketing copies/s (vs w1)", w1, rate(raw, "w3"), 0.6, ">= 0.60 x w1"
        ),
        latency_line(raw),
        memory_line(raw),
        ratio_line(
            f"6 {_size(raw, 'w6.big')} store vs {_size(raw, 'w6.small')} (full path)",
            rate(raw, "w6.small"),
            rate(raw, "w6.big"),
            0.9,
            ">= 0.90 x small",
        ),
        ratio_line(
            "7.1 PostgreSQL, w1 again (vs SQLite w1)", w1, rate(raw, "w7.r1"), None, "(none)"
        ),
        ratio_line(
            "7.2 PostgreSQL, w2 again (vs SQLite w2)",
            rate(raw, "w2"),
            rate(raw, "w7.r10"),
            None,
            "(none)",
        ),
    ]
    return [*lines, "(delivered per second at the sink; * = not everything reached the sink)"]


def _size(raw: Raw, name: str) -> str:
    count = num(raw, name, "contacts")
    if math.isnan(count):
        return "?"
    return f"{count / 1e6:g}M" if count >= 1e6 else f"{count / 1e3:g}k"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw", type=Path)
    parser.add_argument("--only", default="0,1,2,3,4,5,6,7")
    args = parser.parse_args()
    wanted = set(args.only.split(","))
    for line in table(parse(args.raw)):
        number = line.split(" ", 1)[0].split(".")[0]
        if not number.isdigit() or number in wanted:
            print(line)


if __name__ == "__main__":
    main()
