"""The `[http]` and `[store]` keys that harden the HTTP side and the disk (issue 11).

Bases of `HttpConfig` and `StoreConfig` (same tables, same key names), kept here so that
config.py stays one screenful per concern. Checked by `check_web_hardening` at load time;
enforced by gateway/web/health.py, gateway/web/ops_guard.py and gateway/pipeline/diskspace.py.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass
class HttpHardening:
    metrics_token: str | None = None
    """Bearer token /metrics asks for; unset = open (keep `http.listen` on loopback then)."""
    metrics_cache_seconds: float = 5.0
    """/metrics is computed at most once per this many seconds, however many scrape."""
    login_max_failures: int = 10
    """Wrong dashboard sign-ins per client address in 15 minutes before `429`."""
    request_timeout: float = 30.0
    """Seconds a client has to send a request's headers (then the connection is closed) and
    its body (then `408`; gateway/web/deadline.py); also the most a kept-alive connection
    stays idle."""


@dataclass
class StoreHardening:
    min_free_bytes: int = 256 * MIB
    """Below this free space on the SQLite store's disk, new mail is answered `452 4.3.1`."""


def check_web_hardening(http: HttpHardening, store: StoreHardening) -> str:
    """The first problem with these keys, or an empty string."""
    if http.metrics_cache_seconds < 0:
        return "'http.metrics_cache_seconds' must not be negative"
    if not http.request_timeout > 0:
        return "'http.request_timeout' must be more than 0 seconds"
    if http.login_max_failures < 1:
        return "'http.login_max_failures' must be at least 1"
    if store.min_free_bytes < 0:
        return "'store.min_free_bytes' must not be negative (0 turns the floor off)"
    return ""
