"""The forms a config value takes beyond TOML's own types: `HOST:PORT` listen addresses,
durations, and what follows from them (the URL of a listener, whether a host is loopback)."""

from __future__ import annotations

import ipaddress
import re
import socket


class ConfigError(Exception):
    """A config file or override that cannot be used; the message names key and source."""


def parse_hostport(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `[::1]:PORT` for IPv6."""
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)|([^:\[\]]+):(\d+)", text)
    if not match:
        raise ValueError(f"expected HOST:PORT or [IPv6]:PORT, got {text!r}")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    if not 0 <= port <= 65535:
        raise ValueError(f"port out of range in {text!r}")
    return host, port


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """`90`, `45s`, `30m`, `12h`, `5d` -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not match:
        raise ValueError(f"expected a duration like 5d, 12h, 30m or 45s, got {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def url_of_listen(listen: str) -> str:
    """`http://HOST:PORT` for a listen address; a wildcard host is named by this machine."""
    try:
        host, port = parse_hostport(listen)
    except ValueError:
        return ""  # _validate names the bad listen address
    if host in ("0.0.0.0", "::", ""):
        host = socket.getfqdn()
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
