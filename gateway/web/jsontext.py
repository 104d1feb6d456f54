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
from types import UnionType
from typing import Any


def loads(raw: bytes) -> Any:
    """`json.loads`, raising ValueError (as for any bad JSON) for the texts above: NaN,
    Infinity and 1e999 as they are parsed, arrays nested past Python's recursion limit
    (`[[[[…`, a few KB; json's RecursionError was a 500), and a string holding a lone
    surrogate or NUL. Decoded strictly, the body itself can hold neither (json.loads would
    pass encoded surrogates through), so only a `\\u` escape can make one: a body without
    one is not looked at again."""
    try:
        text = raw.decode(json.detect_encoding(raw))  # UTF-8, -16 or -32, as json.loads
        data = json.loads(text, parse_constant=_not_a_number, parse_float=_finite)
        if "\\u" in text and _unstorable(data):
            raise ValueError("a string holds a lone surrogate or NUL, which no store keeps")
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc
    return data


def _unstorable(value: Any) -> bool:
    """Whether a string in `value`, key or value at any depth, holds NUL or a surrogate."""
    if isinstance(value, str):
        return "\x00" in value or not (value.isascii() or _encodes(value))
    if isinstance(value, dict):
        return any(_unstorable(k) or _unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_unstorable(v) for v in value)
    return False


def _encodes(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


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


def from_cursor(value: str, kinds: tuple[type | UnionType, ...]) -> list[Any]:
    """What `cursor` made of values of these kinds, in order; ValueError for anything else
    (binascii.Error is a ValueError)."""
    values = loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    if (
        isinstance(values, list)
        and len(values) == len(kinds)
        and all(map(isinstance, values, kinds))
    ):
        return values
    raise ValueError("not a page cursor")
