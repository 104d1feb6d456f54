"""Relative paths in a config file mean that file's directory, not the working directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PATH_KEYS: tuple[tuple[str, str], ...] = (
    ("smtp", "tls_cert"),
    ("smtp", "tls_key"),
    ("upstream", "ca_file"),
    ("dkim", "key_file"),
    ("policy", "directory"),
    ("policy", "shadow_directory"),
    ("log", "signing_key_file"),
)
"""Keys naming a file or directory: in a config file, relative to that file's directory."""


def anchor_paths(raw: dict[str, Any], base: Path) -> None:
    """Relative paths written in a config file mean the file's directory, wherever the
    command runs from (`/etc/gk/gatekeeper.toml` with `sqlite:///gk.db` = /etc/gk/gk.db);
    values from the environment stay relative to the working directory."""
    for section, key in PATH_KEYS:
        table = raw.get(section)
        if isinstance(table, dict) and isinstance(table.get(key), str) and table[key]:
            table[key] = str(base / Path(table[key]).expanduser())
    store = raw.get("store")
    if isinstance(store, dict) and isinstance(store.get("url"), str):
        url = store["url"]
        rest = url.removeprefix("sqlite:///")
        if url.startswith("sqlite:///") and rest and rest != ":memory:" and rest[0] != "/":
            store["url"] = f"sqlite:///{base / rest}"
    upstream = raw.get("upstream")
    if isinstance(upstream, dict) and isinstance(upstream.get("url"), str):
        url = upstream["url"]
        directory = url.removeprefix("outbox:")
        if url.startswith("outbox:") and directory:
            upstream["url"] = f"outbox:{base / Path(directory).expanduser()}"
