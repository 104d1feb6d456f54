"""Unsubscribe tokens: compact, HMAC-signed, expiring values naming a recipient and a scope.

A token is base64url (no padding) of ``payload || mac`` where

    payload = version (1 byte) | issued_at (uint32, Unix seconds) | len(scope) (1 byte)
              | scope (UTF-8) | recipient (UTF-8)
    mac     = HMAC-SHA256(key, CONTEXT || payload)[:16]

Its alphabet is ``A-Z a-z 0-9 - _``: no '+', '/' or '=', so it is safe in a URL path and in
an address local part (all of those are RFC 5322 atext). The recipient is stored as given;
callers pass the canonical address (docs/design.md §4).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gateway.policy.vocab import UNSUBSCRIBE_MIN_DAYS

DEFAULT_MAX_AGE = timedelta(days=90)
# CASL s.11(3): the unsubscribe mechanism must stay valid at least 60 days after sending.
MIN_MAX_AGE = timedelta(days=UNSUBSCRIBE_MIN_DAYS)

_VERSION = 1
_HEAD = struct.Struct(">BIB")  # version, issued_at, scope length
# RFC 2104 §5: keep at least half the hash output (128 of 256 bits).
_MAC_LEN = 16
# Domain separation: the same secret may key other HMACs (e.g. erasure hashes).
_CONTEXT = b"gatekeeper/unsubscribe\x00"
CONFIRM_CONTEXT = b"gatekeeper/resubscribe-confirm\x00"
"""Tokens of the link in a re-subscription's confirmation mail (double opt-in): an
unsubscribe link cannot confirm, and a confirmation link cannot unsubscribe."""
_MIN_RAW = _HEAD.size + 1 + 1 + _MAC_LEN  # non-empty scope and recipient
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]+")
# RFC 5321 §4.5.3.1.1: a local part is at most 64 octets.
_LOCAL_PART_MAX = 64
_MAILTO_LOCAL = "unsubscribe"


class TokenError(ValueError):
    """A token that cannot be honoured."""


class TokenMalformed(TokenError):
    """Bad encoding or structure, or a MAC no current key produced (HTTP 400)."""


class TokenExpired(TokenError):
    """Authentic but older than the allowed age (HTTP 410). ``claims`` says whose it was."""

    def __init__(self, claims: TokenClaims) -> None:
        super().__init__(f"token issued {claims.issued_at.isoformat()} has expired")
        self.claims = claims


@dataclass(frozen=True, slots=True)
class TokenClaims:
    recipient: str
    scope: str
    issued_at: datetime


def issue(
    keys: Sequence[bytes],
    recipient: str,
    scope: str,
    now: datetime,
    *,
    context: bytes = _CONTEXT,
) -> str:
    """Sign a token for ``recipient`` and ``scope`` (a topic, a purpose or ``all``) with keys[0].
    ``context`` separates kinds of token: one signed for another purpose never verifies here."""
    if not keys:
        raise ValueError("at least one unsubscribe key is required")
    scope_raw, recipient_raw = scope.encode(), recipient.encode()
    if not scope_raw or not recipient_raw:
        raise ValueError("recipient and scope must not be empty")
    if len(scope_raw) > 255:
        raise ValueError("scope is longer than 255 bytes")
    payload = _HEAD.pack(_VERSION, _unix_seconds(now), len(scope_raw)) + scope_raw + recipient_raw
    return _b64encode(payload + _mac(keys[0], payload, context))


def verify(
    keys: Sequence[bytes],
    token: str,
    now: datetime,
    max_age: timedelta = DEFAULT_MAX_AGE,
    *,
    context: bytes = _CONTEXT,
) -> TokenClaims:
    """Return the claims of an authentic, unexpired token; any key may have signed it. An
    unsubscribe token lives at least MIN_MAX_AGE; other contexts set their own age."""
    if not keys:
        raise ValueError("at least one unsubscribe key is required")
    if max_age < MIN_MAX_AGE and context == _CONTEXT:
        raise ValueError(f"max_age must be at least {MIN_MAX_AGE.days} days (CASL s.11(3))")
    raw = _b64decode(token)
    payload, mac = raw[:-_MAC_LEN], raw[-_MAC_LEN:]
    # Check every key so timing does not reveal which one matched.
    matches = [hmac.compare_digest(_mac(key, payload, context), mac) for key in keys]
    if not any(matches):
        raise TokenMalformed("token signature does not match")
    claims = _parse_payload(payload)
    if now - claims.issued_at > max_age:
        raise TokenExpired(claims)
    return claims


def mailto_address(token: str, domain: str) -> tuple[str, str | None]:
    """Address (and subject, when the token does not fit the local part) for mailto unsubscribe."""
    local = f"{_MAILTO_LOCAL}+{token}"
    if len(local.encode()) <= _LOCAL_PART_MAX:
        return f"{local}@{domain}", None
    return f"{_MAILTO_LOCAL}@{domain}", token


def token_from_mail(local_part: str, subject: str | None) -> str | None:
    """The token carried by mail sent to a ``mailto_address``, or None if there is none.

    The subject is searched word by word because replying clients may prefix it ("Re: ").
    """
    base, plus, tail = local_part.partition("+")
    if base.lower() != _MAILTO_LOCAL:
        return None
    if plus:
        return tail if _looks_like_token(tail) else None
    for word in reversed((subject or "").split()):
        if _looks_like_token(word):
            return word
    return None


def _parse_payload(payload: bytes) -> TokenClaims:
    version, issued, scope_len = _HEAD.unpack_from(payload)
    if version != _VERSION:
        raise TokenMalformed(f"unknown token version {version}")
    scope_raw = payload[_HEAD.size : _HEAD.size + scope_len]
    recipient_raw = payload[_HEAD.size + scope_len :]
    if len(scope_raw) != scope_len or not scope_raw or not recipient_raw:
        raise TokenMalformed("token payload is truncated")
    try:
        scope, recipient = scope_raw.decode(), recipient_raw.decode()
    except UnicodeDecodeError as exc:
        raise TokenMalformed("token payload is not UTF-8") from exc
    return TokenClaims(recipient, scope, datetime.fromtimestamp(issued, UTC))


def _mac(key: bytes, payload: bytes, context: bytes) -> bytes:
    return hmac.new(key, context + payload, hashlib.sha256).digest()[:_MAC_LEN]


def _unix_seconds(now: datetime) -> int:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return int(now.timestamp())


def _looks_like_token(text: str) -> bool:
    return len(text) >= _encoded_len(_MIN_RAW) and _TOKEN_RE.fullmatch(text) is not None


def _encoded_len(raw_len: int) -> int:
    return (raw_len * 4 + 2) // 3


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(token: str) -> bytes:
    if not _TOKEN_RE.fullmatch(token):
        raise TokenMalformed("token has characters outside base64url")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError as exc:
        raise TokenMalformed("token is not valid base64url") from exc
    # Reject non-canonical spellings so that one token has exactly one string form.
    if len(raw) < _MIN_RAW or _b64encode(raw) != token:
        raise TokenMalformed("token has the wrong length")
    return raw
