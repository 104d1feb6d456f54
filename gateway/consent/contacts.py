"""Contacts CSV (docs/design.md §4): read and check row by row, never the whole file in memory."""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from gateway.addresses import AddressError, canonical, check
from gateway.policy.vocab import PURPOSES, RELATIONSHIP_KINDS
from gateway.store.records import ContactRow
from gateway.timefmt import TimeFormatError, normalise_time

COLUMNS: tuple[str, ...] = (
    "email",
    "country",
    "source",
    "consent_topics",
    "consent_at",
    "double_opt_in_at",
    "consent_proof",
    "customer_kind",
    "last_purchase_at",
    "purchase_categories",
    "last_engaged_at",
    "objected_scopes",
)
SOURCES: tuple[str, ...] = (
    "signup-form",
    "checkout",
    "import",
    "api",
    "event",
    "referral",
    "manual",
    "purchased-list",
    "public-source",
    "scraped",
)
_NAME = re.compile(r"[a-z0-9][a-z0-9._:-]{0,63}")
_COUNTRY = re.compile(r"[a-z]{2}")
_LIST_SEPARATOR = re.compile(r"[;,|]")


class RowError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


def check_scope(scope: str) -> str:
    """`all`, a purpose, or a topic name (lower-case letters, digits, `._:-`)."""
    scope = scope.strip().lower()
    if scope == "all" or scope in PURPOSES or _NAME.fullmatch(scope):
        return scope
    raise ValueError(f"unknown scope {scope!r} (all, a purpose, or a topic name)")


def read_contacts(path: Path) -> Iterator[ContactRow]:
    """Rows of a contacts CSV; raises RowError naming the line of the first bad one."""
    for line, record in read_csv(path, COLUMNS):
        try:
            yield contact_row(line, record)
        except (ValueError, AddressError) as exc:
            raise RowError(line, str(exc)) from exc


def read_csv(
    path: Path, columns: Sequence[str], required: str = "email"
) -> Iterator[tuple[int, dict[str, str | None]]]:
    """(line, record) of a CSV as spreadsheets export it: `,` or `;` (or tab) as the header
    line shows, a UTF-8 BOM, header names in any case with spaces around; empty rows
    skipped. Streamed: never the whole file in memory."""
    with path.open("rb") as handle:
        lines = _decoded_lines(handle)
        first = next(lines, None)
        if first is None or not first.strip():
            raise RowError(1, "empty file: a header row is required")
        reader = csv.reader(itertools.chain([first], lines), delimiter=_delimiter(first))
        rows = _checked(reader)
        header = [name.strip().lower() for name in next(rows)]
        _check_header(header, columns, required)
        for fields in rows:
            if not any(f.strip() for f in fields):
                continue
            if len(fields) > len(header):
                raise RowError(reader.line_num, "more fields than columns in the header")
            yield reader.line_num, dict(zip(header, fields, strict=False))


def _checked(reader: Any) -> Iterator[list[str]]:
    """The reader's rows; what the csv module cannot read names its line, as a bad row does."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise RowError(
                reader.line_num + 1,
                f"unreadable CSV ({exc}); a bare CR inside a field or as a line end (old Mac "
                "exports) is not read: save the file as CSV UTF-8",
            ) from None
        yield row


def _delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _decoded_lines(handle: BinaryIO) -> Iterator[str]:
    """Lines as text; a line that is not UTF-8 stops the import naming it, as an import in
    a guessed code page would store wrong names and addresses without a word."""
    for number, raw in enumerate(handle, start=1):
        if number == 1 and raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise RowError(
                1, 'the file is UTF-16 (Excel\'s "Unicode text"): save it as "CSV UTF-8"'
            )
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise RowError(
                number,
                'not UTF-8 (save the file as UTF-8, in Excel "CSV '
                'UTF-8"; it looks like a Windows code page such as cp1250 or '
                "cp1252/latin-1)",
            ) from None


def _check_header(fields: Sequence[str], columns: Sequence[str], required: str) -> None:
    unknown = [f for f in fields if f not in columns]
    if unknown:
        raise RowError(1, f"unknown column(s) {', '.join(unknown)}; known: {', '.join(columns)}")
    doubled = sorted({f for f in fields if fields.count(f) > 1})
    if doubled:
        raise RowError(1, f"column(s) {', '.join(doubled)} given twice")
    if "email" not in fields:
        raise RowError(1, f"the email column is required ({required})")


def contact_row(line: int, record: dict[str, str | None]) -> ContactRow:
    """One CSV-shaped record checked and normalised (the API upserts through it too)."""
    if None in record:
        raise ValueError("more fields than columns in the header")
    value = {k: (v or "").strip() for k, v in record.items()}
    held = next((k for k, v in value.items() if "\x00" in v), None)
    if held is not None:  # PostgreSQL's text holds none: the import failed whole, naming no line
        raise ValueError(f"{held} holds NUL (\\x00), which no store keeps")
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
        customer_kind=_choice(value.get("customer_kind", ""), RELATIONSHIP_KINDS, "customer_kind"),
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
    """Lists in a field: `;`, `,` or `|` between items. No topic, scope or category name
    holds one of them, so any works in any file; the file's own delimiter needs quotes."""
    return [item.strip() for item in _LIST_SEPARATOR.split(text) if item.strip()]


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
    except TimeFormatError as exc:  # one, but out of range
        raise ValueError(f"{column} {exc}") from None
    except ValueError:
        raise ValueError(f"{column} {text!r} is not an ISO 8601 date or time") from None
