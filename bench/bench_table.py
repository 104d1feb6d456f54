"""The one-line-per-workload table of run_all.sh (issue 14), from its raw lines.

  python3 -m bench.bench_table bench/results/TIMESTAMP.txt

Raw lines are `NAME key=value …` (run_bench.sh's line behind the name, or a probe's); `#`
lines are comments. A name measured more than once (`run_all.sh --pairs K`) shows the median
of its values, and a ratio of two such names the median of the ratios of their pairs, the
i-th value of one against the i-th of the other. A rate marked `*` did not have every
message at the sink in time.
"""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path

Raw = dict[str, list[dict[str, str]]]
"""Each name's lines in the order they were measured."""
HEADER = f"{'workload':<44} {'reference':>11} {'gatekeeper':>15} {'ratio':>6}  {'target':<18} met"


def parse(path: Path) -> Raw:
    raw: Raw = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, *fields = line.split()
        raw.setdefault(name, []).append(dict(f.split("=", 1) for f in fields if "=" in f))
    return raw


def values(raw: Raw, name: str, key: str) -> list[float]:
    found = []
    for fields in raw.get(name, []):
        try:
            found.append(float(fields[key]))
        except (KeyError, ValueError):
            found.append(math.nan)
    return found


def num(raw: Raw, name: str, key: str) -> float:
    """The median of the name's values (its one value, most often); NaN if it has none."""
    found = values(raw, name, key)
    return statistics.median(found) if found else math.nan


def rate(raw: Raw, name: str) -> tuple[float, str]:
    """Delivered per second, and `*` unless everything expected reached the sink each time."""
    delivered, expected = values(raw, name, "delivered"), values(raw, name, "expected")
    whole = all(d >= e for d, e in zip(delivered, expected, strict=True))
    value = num(raw, name, "msgs_per_s")
    return value, "" if whole or math.isnan(value) else "*"


def pair_ratios(raw: Raw, ref: str, gk: str) -> list[float]:
    """The ratio of each pair measured back to back; none unless both were measured as
    often, more than once."""
    refs, gks = values(raw, ref, "msgs_per_s"), values(raw, gk, "msgs_per_s")
    if len(refs) < 2 or len(refs) != len(gks):
        return []
    return [g / r if r else math.nan for r, g in zip(refs, gks, strict=True)]


def fmt(value: float, mark: str = "", width: int = 11) -> str:
    text = "-" if math.isnan(value) else f"{value:,.1f}{mark}"
    return f"{text:>{width}}"


def fixed(value: float, digits: int, suffix: str = "") -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}{suffix}"


def line(label: str, ref: str, value: str, ratio: str, target: str, ok: bool | None) -> str:
    met = "-" if ok is None else ("yes" if ok else "NO")
    return f"{label:<44} {ref:>11} {value:>15} {ratio:>6}  {target:<18} {met}"


def ratio_line(label: str, raw: Raw, ref: str, gk: str, need: float | None, target: str) -> str:
    ref_rate, gk_rate = rate(raw, ref), rate(raw, gk)
    pairs = pair_ratios(raw, ref, gk)
    if pairs:
        ratio = statistics.median(pairs)
    else:
        ratio = gk_rate[0] / ref_rate[0] if ref_rate[0] else math.nan
    ok = None if need is None or math.isnan(ratio) or gk_rate[1] else ratio >= need
    return line(label, fmt(*ref_rate), fmt(*gk_rate), fixed(ratio, 2), target, ok)


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
        ratio_line(f"0.{i} {label}, {n} rcpt", raw, f"postfix.r{n}", f"{name}.r{n}", None, "(none)")
        for i, (label, name, n) in enumerate(runs, start=1)
    ]


def _pairs_note(raw: Raw) -> list[str]:
    """Workloads 1 and 2 measured in pairs: each pair's ratio, so the spread shows."""
    notes = []
    for number, ref, gk in (("1", "postfix.r1", "w1"), ("2", "postfix.r10", "w2")):
        pairs = pair_ratios(raw, ref, gk)
        if pairs:
            each = ", ".join(fixed(r, 2) for r in pairs)
            notes.append(f"({number}: the ratio is the median of {len(pairs)} pairs: {each})")
    return notes


def table(raw: Raw) -> list[str]:
    small, big = _size(raw, "w6.small"), _size(raw, "w6.big")
    lines = [
        HEADER,
        *_floor_lines(raw),
        ratio_line(
            "1 1 rcpt, full path, big store (vs Postfix)",
            raw,
            "postfix.r1",
            "w1",
            2.0,
            ">= 2.00 x Postfix",
        ),
        ratio_line(
            "2 10 rcpt, transactional (vs Postfix)",
            raw,
            "postfix.r10",
            "w2",
            1.5,
            ">= 1.50 x Postfix",
        ),
        ratio_line("3 10 rcpt, marketing copies/s (vs w1)", raw, "w1", "w3", 0.6, ">= 0.60 x w1"),
        latency_line(raw),
        memory_line(raw),
        ratio_line(
            f"6 {big} store vs {small} (full path)",
            raw,
            "w6.small",
            "w6.big",
            0.9,
            ">= 0.90 x small",
        ),
        ratio_line("7.1 PostgreSQL, w1 again (vs SQLite w1)", raw, "w1", "w7.r1", None, "(none)"),
        ratio_line("7.2 PostgreSQL, w2 again (vs SQLite w2)", raw, "w2", "w7.r10", None, "(none)"),
    ]
    return [
        *lines,
        "(delivered per second at the sink; * = not everything reached the sink)",
        *_pairs_note(raw),
    ]


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
