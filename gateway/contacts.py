"""Contacts CSV (DESIGN §4): read and check row by row, never the whole file in memory."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from gateway.addresses import AddressError, canonical, check
from gateway.policy.facts import PURPOSES
from gateway.store.records import ContactRow

COLUMNS: tuple[str, ...] = (
    "email", "country", "source", "consent_topics", "consent_at", "double_opt_in_at",
    "consent_proof", "customer_kind", "last_purchase_at", "purchase_categories",
    "last_engaged_at", "objected_scopes",
)
SOURCES: tuple[str, ...] = (
    "signup-form", "checkout", "import", "api", "event", "referral", "manual",
    "purchased-list", "public-source", "scraped",
)
CUSTOMER_KINDS = ("purchase", "inquiry")
_NAME = re.compile(r"[a-z0-9][a-z0-9._:-]{0,63}")
_COUNTRY = re.compile(r"[a-z]{2}")


class RowError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def normalise_time(text: str) -> str:
    """ISO 8601 date or time -> the store's UTC form; a time without zone is UTC."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def check_scope(scope: str) -> str:
    """`all`, a purpose, or a topic name (lower-case letters, digits, `._:-`)."""
    scope = scope.strip().lower()
    if scope == "all" or scope in PURPOSES or _NAME.fullmatch(scope):
        return scope
    raise ValueError(f"unknown scope {scope!r} (all, a purpose, or a topic name)")


def read_contacts(path: Path) -> Iterator[ContactRow]:
    """Rows of a contacts CSV; raises RowError naming the line of the first bad one."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        _check_header(reader.fieldnames)
        for record in reader:
            try:
                yield contact_row(reader.line_num, record)
            except (ValueError, AddressError) as exc:
                raise RowError(reader.line_num, str(exc)) from exc


def _check_header(fields: Sequence[str] | None) -> None:
    if not fields:
        raise RowError(1, "empty file: a header row is required")
    unknown = [f for f in fields if f not in COLUMNS]
    if unknown:
        raise RowError(1, f"unknown column(s) {', '.join(unknown)}; known: {', '.join(COLUMNS)}")
    if "email" not in fields:
        raise RowError(1, "the email column is required")


def contact_row(line: int, record: dict[str, str | None]) -> ContactRow:
    """One CSV-shaped record checked and normalised (the API upserts through it too)."""
    if None in record:
        raise ValueError("more fields than columns in the header")
    value = {k: (v or "").strip() for k, v in record.items()}
    original = check(value.get("email", ""))
    row = ContactRow(
        line=line,
        address=canonical(original),
        original=original,
        country=_country(value.get("country", "")),
        source=_choice(value.get("source", ""), SOURCES, "source"),
        consent_topics=_names(value.get("consent_topics", ""), "consent topic"),
        consent_at=_time(value.get("consent_at", ""), "consent_at"),
        double_opt_in_at=_time(value.get("double_opt_in_at", ""), "double_opt_in_at"),
        consent_proof=value.get("consent_proof") or None,
        customer_kind=_choice(value.get("customer_kind", ""), CUSTOMER_KINDS, "customer_kind"),
        last_purchase_at=_time(value.get("last_purchase_at", ""), "last_purchase_at"),
        purchase_categories=_names(value.get("purchase_categories", ""), "category"),
        last_engaged_at=_time(value.get("last_engaged_at", ""), "last_engaged_at"),
        objected_scopes=tuple(check_scope(s) for s in _split(value.get("objected_scopes", ""))),
    )
    if row.consent_topics and not row.consent_at:
        raise ValueError("consent_topics given without consent_at (when was it given?)")
    if row.customer_kind and not row.last_purchase_at:
        raise ValueError("customer_kind given without last_purchase_at")
    return row


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split(";") if item.strip()]


def _names(text: str, what: str) -> tuple[str, ...]:
    names = tuple(item.lower() for item in _split(text))
    for name in names:
        if not _NAME.fullmatch(name):
            raise ValueError(f"bad {what} {name!r}")
    return names


def _country(text: str) -> str | None:
    if not text:
        return None
    code = text.lower()
    if not _COUNTRY.fullmatch(code):
        raise ValueError(f"country {text!r} is not an ISO 3166-1 alpha-2 code")
    return code


def _choice(text: str, allowed: tuple[str, ...], column: str) -> str | None:
    if not text:
        return None
    if text.lower() not in allowed:
        raise ValueError(f"unknown {column} {text!r} (one of {', '.join(allowed)})")
    return text.lower()


def _time(text: str, column: str) -> str | None:
    if not text:
        return None
    try:
        return normalise_time(text)
    except ValueError:
        raise ValueError(f"{column} {text!r} is not an ISO 8601 date or time") from None
