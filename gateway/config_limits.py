"""The `[smtp]` keys that bound what one client, or all of them, can hold (issue 11).

A base of `SmtpConfig` (same `[smtp]` table, same key names), kept here so that config.py
stays one screenful per concern. Checked by `check_smtp_limits` at load time; enforced by
gateway/smtp/limits.py and gateway/smtp/clock.py, whose replies are in pipeline/replies.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

MIB = 1024 * 1024


@dataclass
class SmtpLimits:
    max_sessions: int = 1000
    """Open SMTP sessions in all; beyond, the greeting is `421 4.7.0` (RFC 5321 §3.8)."""
    max_sessions_per_client: int = 50
    """Open sessions from one client IP address; beyond, `421 4.7.0`."""
    greeting_timeout: float = 30.0
    """Seconds from connect to the first command; then `421 4.4.2` (RFC 5321 §4.5.3.2)."""
    max_session_time: float = 3600.0
    """Seconds a session may last however busy it is; then `421 4.4.2`."""
    max_commands: int = 10000
    """Commands per session; then `421 4.7.0` and close."""
    max_noops: int = 100
    """NOOP, RSET, VRFY and HELP per session (Postfix's junk commands); then `421 4.7.0`."""
    max_inflight_bytes: int = 256 * MIB
    """DATA bytes held by all sessions together; beyond, `452 4.3.1` (RFC 3463)."""
    mailbox_max_size: int = 128 * 1024
    """Largest message to the gateway's own mailboxes (unsubscribe, reports): `552 5.3.4`."""
    listen_backlog: int = 1024
    """Connections the kernel queues before the gateway accepts them (listen(2))."""


_POSITIVE = (
    "timeout",
    "max_sessions",
    "max_sessions_per_client",
    "greeting_timeout",
    "max_session_time",
    "max_commands",
    "max_noops",
    "max_inflight_bytes",
    "mailbox_max_size",
    "listen_backlog",
)


class _RatedUser(Protocol):
    name: str
    rate_per_minute: int


def check_smtp_limits(smtp: SmtpLimits, users: Iterable[_RatedUser] = ()) -> str | None:
    """The first bad value as `'key': why`, or None."""
    for key in _POSITIVE:
        if getattr(smtp, key) <= 0:
            return f"'smtp.{key}' must be positive"
    for user in users:
        if user.rate_per_minute < 0:
            return f"smtp.users '{user.name}': rate_per_minute must be 0 (no limit) or positive"
    return None
