"""Text a store can encode, whatever the client sent.

Bytes that are not UTF-8 reach Python as lone surrogates (PEP 383): in SMTP commands, in raw
8-bit header fields (a Message-ID), in an upstream's replies. Neither SQLite nor PostgreSQL
can encode them, and one such row fails every commit it is in; rows nobody waits for are
kept for the next commit, so the writer would fail for good and every session answer 451.
Each is written as its `\\xNN` escape instead: an operator still sees which byte came. So is
NUL, valid UTF-8 that PostgreSQL's text cannot hold (`RCPT TO:<a\\x00b@…>` stopped its
writer the same way; SQLite stored it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from typing import Any


def storable_text(text: str) -> str:
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    if text.isascii():
        return text
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate no decoding made (e.g. from JSON): as itself
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def make_storable(records: Iterable[Any]) -> None:
    """The records' text fields made storable, in place (before anything hashes them)."""
    for record in records:
        for name in _text_fields(type(record)):
            value = getattr(record, name)
            if not value.isascii() or "\x00" in value:
                setattr(record, name, storable_text(value))


_TEXT_FIELDS: dict[type, tuple[str, ...]] = {}


def _text_fields(kind: type) -> tuple[str, ...]:
    names = _TEXT_FIELDS.get(kind)
    if names is None:  # `str` as written: the records' annotations are strings
        names = _TEXT_FIELDS[kind] = tuple(f.name for f in fields(kind) if f.type == "str")
    return names
