"""Times as the gateway writes and reads them, in one place.

Stored and logged times are ISO 8601 in UTC with milliseconds and a `Z`
(`2025-01-31T12:00:00.000Z`): as text they sort as the times they name, so the store can
compare and index them without a date type, and every language parses them.
"""

from __future__ import annotations

import email.utils
import re
import time
from datetime import UTC, datetime, timedelta

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_OUT_OF_RANGE = "out of range (years 1 to 9999 in UTC)"


class TimeFormatError(ValueError):
    """A time as typed (option, query parameter, CSV or JSON field) that is neither form, or
    is one but falls outside datetime's years 1 to 9999 in UTC."""


def format_utc(moment: datetime) -> str:
    """The stored form of an aware datetime (a naive one is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_ISO_SECOND: tuple[int, str] = (-1, "")
_MAIL_SECOND: tuple[int, str] = (-1, "")


def iso_now() -> str:
    """Now in the stored form, its seconds formatted once per second: every recipient's
    decision row is stamped (issue 14)."""
    global _ISO_SECOND
    now = time.time()
    second = int(now)
    if _ISO_SECOND[0] != second:
        _ISO_SECOND = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{_ISO_SECOND[1]}.{int((now - second) * 1000):03d}Z"


def mail_date() -> str:
    """Now as an RFC 5322 date-time in local time (Date:, Received:), formatted once per
    second (it has no finer part)."""
    global _MAIL_SECOND
    second = int(time.time())
    if _MAIL_SECOND[0] != second:
        local = datetime.fromtimestamp(second).astimezone()
        _MAIL_SECOND = (second, email.utils.format_datetime(local))
    return _MAIL_SECOND[1]


def from_epoch(seconds: float) -> str:
    """A Unix time (the spool's columns) in the stored form."""
    return format_utc(datetime.fromtimestamp(seconds, UTC))


def parse_iso(text: str) -> datetime:
    """An ISO 8601 date or time, aware; one without a zone is UTC. ValueError if neither."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def normalise_time(text: str) -> str:
    """ISO 8601 date or time -> the stored form. ValueError if it is not one, or if its UTC
    falls outside datetime's years 1 to 9999 (`9999-12-31T23:59-12:00`): datetime raises
    OverflowError then, which every caller expecting ValueError let through as a crash."""
    try:
        return format_utc(parse_iso(text))
    except OverflowError:
        raise TimeFormatError(f"{text!r} is {_OUT_OF_RANGE}") from None


def parse_time(text: str | None, option: str = "--since") -> str | None:
    """A bound for the `time` column, in the stored form: a duration back from now (a unit
    is required: `2025` is the year, not 2025 seconds) or an ISO 8601 date/time. `option`
    names the bound in the error, as the user typed it (`--since`, `since`)."""
    if not text:
        return None
    text = text.strip()
    match = _DURATION.fullmatch(text)
    if match:
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
        try:
            return format_utc(datetime.now(UTC) - timedelta(seconds=seconds))
        except OverflowError:  # `1000000d`: before the year 1
            raise TimeFormatError(f"{option} {text!r}: reaches back past the year 1") from None
    if re.fullmatch(r"\d{4}", text):
        text += "-01-01"
    elif re.fullmatch(r"\d{4}-\d{2}", text):
        text += "-01"
    try:
        return normalise_time(text)
    except TimeFormatError:  # a date or time, out of range
        raise TimeFormatError(f"{option} {text!r}: {_OUT_OF_RANGE}") from None
    except ValueError:
        raise TimeFormatError(
            f"{option} {text!r}: expected a duration with a unit (45s, 30m, 2h, 7d) or an "
            "ISO 8601 date or time (2025, 2025-01-01, 2025-01-01T12:00Z)"
        ) from None
