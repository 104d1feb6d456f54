"""Address checks and the canonical form that keys contacts, suppressions and the recipients
of one envelope (docs/design.md §4)."""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import re
from collections.abc import Iterable

import email_validator
from email_validator import EmailNotValidError, validate_email

# A relay does not judge deliverability: the upstream does, as Postfix leaves it to DNS. Cron
# and frameworks send from dotless hosts (`root@myhost`) and from RFC 6761/6762 special-use
# names (Django's `webmaster@localhost`, `user@laptop.local`); email-validator documents this
# list as the setting that rejects the latter (nothing else in the process validates mail).
email_validator.SPECIAL_USE_DOMAIN_NAMES = []

# RFC 5321 §4.1.2 Dot-string of atext (RFC 5322 §3.2.3): the local part nearly all mail uses.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LOCAL_MAX = 64  # RFC 5321 §4.5.3.1.1
_ADDRESS_MAX = 254  # RFC 5321 §4.5.3.1.3: a 256-octet path less the angle brackets
_DOMAIN_CACHE_MAX = 100_000
_domains: dict[str, str | AddressError] = {}


class AddressError(ValueError):
    """Not a usable address; the message says why."""


def check(address: str) -> str:
    """The address, normalised (domain lower-cased, IDNA-checked), or AddressError.

    No DNS: the relay must not wait on resolvers, and the upstream decides deliverability,
    so dotless and special-use domains pass (only their syntax and IDNA form are checked).
    The common shape (ASCII dot-atom local part) is checked here and its domain once per
    domain; everything else goes through email-validator whole.
    """
    try:
        address.encode()
    except UnicodeEncodeError:  # bytes that are not UTF-8, carried as surrogates by aiosmtpd
        raise AddressError("the address is not valid UTF-8 (RFC 6531 §3.3)") from None
    local, at, domain = address.rpartition("@")
    if len(local.encode()) > _LOCAL_MAX:
        raise AddressError(f"the local part is longer than {_LOCAL_MAX} octets (RFC 5321)")
    if at and len(address) <= _ADDRESS_MAX and _DOT_ATOM.fullmatch(local):
        return f"{local}@{_checked_domain(domain)}"
    return _validated(address)


def _checked_domain(domain: str) -> str:
    known = _domains.get(domain)
    if known is None:
        try:
            known = _validated(f"x@{domain}").rpartition("@")[2]
        except AddressError as exc:
            known = exc
        if len(_domains) >= _DOMAIN_CACHE_MAX:
            _domains.clear()
        _domains[domain] = known
    if isinstance(known, AddressError):
        raise known
    return known


def _validated(address: str) -> str:
    try:
        result = validate_email(
            address,
            check_deliverability=False,
            allow_smtputf8=True,
            allow_display_name=False,
            globally_deliverable=False,
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


ERASED = "erased:"
"""The prefix of an erased address's keyed digest (`forget`, docs/design.md §4)."""
ADDRESS_TOKEN = re.compile(r"[^\s<>()\[\],;:\"']+@[^\s<>()\[\],;:\"']*[^\s<>()\[\],;:\"'.]")
"""An address-like word in free text (a decision's detail): what erasure scrubs."""


def erased_key(key: bytes, canonical_address: str) -> str:
    """What an erased address lives on as: the keyed digest `forget` writes in its place."""
    return ERASED + hmac.new(key, canonical_address.encode(), hashlib.sha256).hexdigest()
