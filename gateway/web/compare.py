"""Secrets compared in constant time, whatever text a client sent in their place.

`hmac.compare_digest` takes bytes, or text only if it is ASCII, and a header's bytes that
are not UTF-8 arrive as lone surrogates, which `str.encode()` refuses: a bearer token or a
form's CSRF key of such text was a 500. Here every text is compared as its UTF-8 bytes,
surrogates passed as they are, so a wrong secret of any shape is just wrong.
"""

from __future__ import annotations

import hmac

from aiohttp import web


def same(given: str | bytes, expected: str | bytes) -> bool:
    """True when equal; the time taken says nothing of how much of `expected` was right."""
    return hmac.compare_digest(_bytes(given), _bytes(expected))


def bearer_matches(request: web.Request, token: str) -> bool:
    """`Authorization: Bearer <token>` (RFC 6750 §2.1), the scheme in any case."""
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and same(given, token)


def _bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
