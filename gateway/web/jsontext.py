"""JSON from outside, as text every store can keep.

A ``\\ud800`` escape outside a surrogate pair is valid JSON grammar, but it decodes to a lone
surrogate (RFC 8259 §8.2), which UTF-8 cannot encode: stored, it failed the request's
transaction with a 500. Such a body is refused as not JSON text, where it is read; so is
a dashboard page's cursor, JSON that comes back from outside in a link. So are `NaN`,
`Infinity` and a number past a double's range (`1e999`, read as infinity), which Python's
json takes: stored in a proof, they came back out of the API as JSON that no other parser
reads (RFC 8259 §6 has no such numbers). And so is a `\u0000` escape: PostgreSQL text
holds no NUL, and one in a suppression's source or a webhook's diagnostic failed the
request's transaction with a 500 (a 503 to a provider, which retried it for ever).
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any


def loads(raw: bytes | str) -> Any:
    """`json.loads`, raising ValueError (as for any bad JSON) when a string holds a lone
    surrogate: re-encoding the whole document is one pass in C, and finds them in keys and
    values at any depth. Arrays nested past Python's recursion limit (`[[[[…`, a few KB)
    are a ValueError too, not the RecursionError that was a 500; so are NaN, Infinity
    and 1e999, and a string holding NUL."""
    # decoded as json.loads decodes bytes (UTF-8, -16 or -32), to look for "\\u0000" below
    text = raw if isinstance(raw, str) else raw.decode(json.detect_encoding(raw), "surrogatepass")
    try:
        data = json.loads(text, parse_constant=_not_a_number, parse_float=_finite)
        json.dumps(data, ensure_ascii=False).encode()  # UnicodeEncodeError is a ValueError
        # a NUL in a string can only come from the escape: no walk unless it is there
        if "\\u0000" in text and _holds_nul(data):
            raise ValueError("a string holds NUL (\\u0000), which no store's text can hold")
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc
    return data


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


def _not_a_number(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError("a number past the range of a double")  # not echoed: it may be long
    return value


def cursor(values: list[Any]) -> str:
    """A page cursor for a link: the last row's keys as base64url JSON, unpadded."""
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def from_cursor(value: str) -> Any:
    """What `cursor` made; ValueError for anything else (binascii.Error is a ValueError)."""
    return loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
