"""The `[smtp]` keys that guard AUTH, the implicit-TLS listener and the open-relay refusal.

They are a base of `SmtpConfig` (same `[smtp]` table, same key names), kept here so that
config.py stays one screenful per concern. Checked by `check_smtp_security` at load time.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.config_values import parse_hostport


@dataclass
class SmtpSecurity:
    tls_listen: str = ""
    """Implicit-TLS listener, port 465 style (RFC 8314 §3); empty = none."""
    auth_workers: int = 2
    """Threads that check passwords; AUTH never waits on the pool DKIM or the outbox use."""
    auth_queue: int = 16
    """Checks allowed to wait for a thread; beyond, `454 4.7.0` (RFC 4954 §6)."""
    auth_max_failures: int = 10
    """Failures per client address within `auth_failure_window`; then `421 4.7.0`."""
    auth_failure_window: float = 900.0
    """Seconds a failure is remembered after the client's latest one."""
    auth_delay: float = 0.5
    """Delay of the first failure's reply; it doubles with each failure up to the cap."""
    auth_delay_max: float = 8.0
    i_know_this_is_an_open_relay: bool = False
    """Start even when allow_networks or AUTH without TLS exposes the relay (docs/security.md)."""


def check_smtp_security(smtp: SmtpSecurity) -> str | None:
    """The first bad value as `'key': why`, or None."""
    if smtp.tls_listen:
        try:
            parse_hostport(smtp.tls_listen)
        except ValueError as exc:
            return f"'smtp.tls_listen': {exc}"
    for key in ("auth_workers", "auth_max_failures"):
        if getattr(smtp, key) < 1:
            return f"'smtp.{key}' must be at least 1"
    for key in ("auth_queue", "auth_failure_window", "auth_delay", "auth_delay_max"):
        if getattr(smtp, key) < 0:
            return f"'smtp.{key}' must not be negative"
    return None
