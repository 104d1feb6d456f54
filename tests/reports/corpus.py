"""The report corpus in tests/data/reports and its manifest of expected readings."""

from __future__ import annotations

import tomllib
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "reports"
HIDDEN = "(hidden)"


def manifest() -> dict[str, dict[str, object]]:
    with (DATA / "expected.toml").open("rb") as handle:
        return tomllib.load(handle)


def files() -> list[str]:
    return sorted(
        p.relative_to(DATA).as_posix()
        for p in DATA.rglob("*")
        if p.is_file() and p.suffix in (".txt", ".eml")
    )
