"""One policy file as read: its raw TOML and where to report problems in it.

tomllib reports no positions, so problems are located by scanning the file text for the
offending key, which is good enough for hand-written files.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_HEADER = re.compile(r"^\s*\[\[?([^\[\]]+)\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*([\w"'. -]+?)\s*=""")

KeyPath = tuple[str, ...]


def _key_parts(dotted: str) -> KeyPath:
    return tuple(part.strip().strip("\"'") for part in dotted.split("."))


def _line_index(text: str) -> dict[KeyPath, int]:
    """First line of every table header and key, by full key path."""
    index: dict[KeyPath, int] = {}
    table: KeyPath = ()
    for number, line in enumerate(text.splitlines(), 1):
        if header := _HEADER.match(line):
            table = _key_parts(header[1])
            index.setdefault(table, number)
        elif key := _KEY.match(line):
            index.setdefault(table + _key_parts(key[1]), number)
    return index


@dataclass
class PolicySource:
    """One policy file: its raw TOML and the problems found in it so far."""

    code: str
    path: Path
    raw: dict[str, Any]
    lines: dict[KeyPath, int]
    problems: list[str]

    def report(self, keys: KeyPath, message: str) -> None:
        line = next(
            (self.lines[keys[:n]] for n in range(len(keys), 0, -1) if keys[:n] in self.lines), 1
        )
        self.problems.append(f"{self.path}:{line}: {'.'.join(keys) or '(file)'}: {message}")


def read_source(path: Path) -> PolicySource:
    text = path.read_text(encoding="utf-8")
    source = PolicySource(path.stem.lower(), path, {}, _line_index(text), [])
    try:
        source.raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        source.problems.append(f"{path}: invalid TOML: {err}")
    return source
