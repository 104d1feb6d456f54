"""Address checks and the canonical form that keys contacts and suppressions (DESIGN §4)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from email_validator import EmailNotValidError, validate_email


class AddressError(ValueError):
    """Not a usable address; the message says why."""


def check(address: str) -> str:
    """The address, normalised (domain lower-cased, IDNA-checked), or AddressError.

    No DNS: the relay must not wait on resolvers, and the upstream decides deliverability.
    """
    try:
        result = validate_email(
            address, check_deliverability=False, allow_smtputf8=True, allow_display_name=False
        )
    except EmailNotValidError as exc:
        raise AddressError(str(exc)) from exc
    return result.normalized


def canonical(address: str) -> str:
    """IDNA-lowercased domain and case-folded local part: one key per mailbox."""
    local, _, domain = address.strip().rpartition("@")
    if not local:
        raise AddressError(f"{address!r} has no local part")
    if domain.isascii():
        return f"{local.casefold()}@{domain.lower()}"
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise AddressError(f"{address!r}: bad domain: {exc}") from exc
    return f"{local.casefold()}@{ascii_domain}"


def matches_glob(address: str, patterns: Iterable[str]) -> bool:
    """Case-insensitive shell-style match: `news@example.com`, `*@marketing.example.com`."""
    lowered = address.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern.lower()) for pattern in patterns)
