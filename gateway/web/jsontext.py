"""JSON from outside, as text every store can keep.

A ``\\ud800`` escape outside a surrogate pair is valid JSON grammar, but it decodes to a lone
surrogate (RFC 8259 §8.2), which UTF-8 cannot encode: stored, it failed the request's
transaction with a 500. Such a body is refused as not JSON text, where it is read; so is
a dashboard page's cursor, JSON that comes back from outside in a link. So are `NaN`,
`Infinity` and a number past a double's range (`1e999`, read as infinity), which Python's
json takes: stored in a proof, they came back out of the API as JSON that no other parser
reads (RFC 8259 §6 has no such numbers).
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
    and 1e999."""
    try:
        data = json.loads(raw, parse_constant=_not_a_number, parse_float=_finite)
        json.dumps(data, ensure_ascii=False).encode()  # UnicodeEncodeError is a ValueError
    except RecursionError as exc:
        raise ValueError("nested too deeply") from exc
    return data


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
