"""Times relative to now, in the form the store writes (gateway/timefmt.py).

Consent and purchases that a test needs to be current must not be fixed dates: the gateway
lets consent lapse `policy.inactive_after_days` (1,095) after a contact's latest date and a
purchase count for soft opt-in for `window_months`, so a fixed date fails the test on a
known day. A time some days back stays current whatever day the suite runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.timefmt import format_utc


def days_ago(days: float) -> str:
    """Now less `days`, as stored: `2025-01-31T12:00:00.000Z`."""
    return format_utc(datetime.now(UTC) - timedelta(days=days))


def date_days_ago(days: float) -> str:
    """The UTC date `days` back, as a CSV import takes it: `2025-01-31`."""
    return days_ago(days)[:10]
