"""Value checks for policy file keys: each returns what is wrong with a value, or None.

A basis or content requirement declares its parameters as a mapping of key to check; the
schema applies them and reports the message against the key's file and line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gateway.policy.vocab import RELATIONSHIP_KINDS

Check = Callable[[Any], str | None]


def text(value: Any) -> str | None:
    return None if isinstance(value, str) and value.strip() else "must be a non-empty string"


def rule_id(value: Any) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"[a-z0-9][a-z0-9.:-]*", value):
        return None
    return 'must be a lower-case id such as "cz.marketing.soft-opt-in"'


def boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def positive_int(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
    return None if ok else "must be a positive integer"


def one_of(options: Sequence[str]) -> Check:
    def check(value: Any) -> str | None:
        return None if value in options else f"must be one of {', '.join(options)}"

    return check


def list_of(options: Sequence[str] | None) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, list) or not all(text(item) is None for item in value):
            return "must be a list of non-empty strings"
        unknown = [item for item in value if options is not None and item not in options]
        return (
            f"unknown {', '.join(unknown)}; known: {', '.join(options or ())}" if unknown else None
        )

    return check


def topics(value: Any) -> str | None:
    problem = list_of(None)(value)
    if problem is None:
        try:
            for template in value:
                template.format(topic="t", partner="p")
        except (KeyError, IndexError, ValueError):
            return "may only use the placeholders {topic} and {partner}"
    return problem


def window_months(value: Any) -> str | None:
    ok = (
        isinstance(value, dict)
        and value
        and all(kind in RELATIONSHIP_KINDS and positive_int(n) is None for kind, n in value.items())
    )
    return None if ok else "must be a table such as { purchase = 24, inquiry = 6 }"


RULE: Mapping[str, Check] = {"id": rule_id, "cite": text}
"""The keys every rule table has."""
