"""Times in the stored form, and time bounds as users type them."""

from __future__ import annotations

import email.utils
import re
from datetime import UTC, datetime, timedelta

import pytest

from gateway.timefmt import (
    TimeFormatError,
    format_utc,
    from_epoch,
    iso_now,
    mail_date,
    normalise_time,
    parse_iso,
    parse_time,
)


def test_stored_form_is_utc_milliseconds_z() -> None:
    moment = datetime(2025, 3, 4, 5, 6, 7, 891234, tzinfo=UTC)
    assert format_utc(moment) == "2025-03-04T05:06:07.891Z"
    assert format_utc(moment.replace(tzinfo=None)) == "2025-03-04T05:06:07.891Z"
    assert from_epoch(0) == "1970-01-01T00:00:00.000Z"
    assert normalise_time("2025-03-04T07:06:07+02:00") == "2025-03-04T05:06:07.000Z"
    assert normalise_time(" 2025-03-04 ") == "2025-03-04T00:00:00.000Z"
    assert parse_iso("2025-03-04T05:06:07Z") == datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def test_a_bare_number_is_a_year_not_seconds() -> None:
    assert parse_time("2025") == "2025-01-01T00:00:00.000Z"
    assert parse_time("2025-06") == "2025-06-01T00:00:00.000Z"


def test_durations_need_a_unit() -> None:
    bound = parse_time("2h")
    assert bound is not None
    ago = datetime.now(UTC) - parse_iso(bound)
    assert timedelta(hours=2) <= ago < timedelta(hours=2, minutes=5)
    assert parse_time(None) is None and parse_time("") is None
    with pytest.raises(TimeFormatError, match=r"^since 'soon': expected a duration"):
        parse_time("soon", "since")
    with pytest.raises(ValueError, match=r"^--until '45'"):
        parse_time("45", "--until")


def test_now_in_the_stored_form_is_now_to_the_millisecond() -> None:
    before = datetime.now(UTC)
    stamped = iso_now()
    after = datetime.now(UTC)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamped)
    assert before - timedelta(milliseconds=1) <= parse_iso(stamped) <= after


def test_mail_date_is_an_rfc_5322_date_of_now() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    date = email.utils.parsedate_to_datetime(mail_date())
    assert before <= date <= datetime.now(UTC)
