"""What a policy file may say: every key of every table and its check, per file.

The key tables of bases and content requirements come from their registries, so a new basis
or requirement is known to the schema without an edit here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.policy import checks
from gateway.policy.bases import BASES
from gateway.policy.checks import RULE, Check
from gateway.policy.requirements import REQUIREMENTS
from gateway.policy.source import KeyPath, PolicySource
from gateway.policy.vocab import PURPOSES, SUPPRESSION_BLOCKS, SUPPRESSION_REASONS

Keys = Mapping[str, Check]

_BASIS_KEYS: dict[str, Keys] = {name: {**RULE, **cls.keys} for name, cls in BASES.items()}
_CONTENT_KEYS: dict[str, Keys] = {name: {**RULE, **cls.keys} for name, cls in REQUIREMENTS.items()}
_PURPOSE_KEYS: Keys = {
    **RULE,
    "bases": checks.list_of(tuple(BASES)),
    "treat_as": checks.one_of(PURPOSES),
    "content": checks.list_of(tuple(REQUIREMENTS)),
}
_SUPPRESSION_KEYS: Keys = {**RULE, "blocks": checks.one_of(SUPPRESSION_BLOCKS)}
_SOURCES_KEYS: Keys = {**RULE, "deny": checks.list_of(None)}
_TOP_KEYS: Keys = {"name": checks.text, "extends": checks.text}
_TOP_TABLES = ("address", "sources", "suppressions", "content", *PURPOSES)


def _check_keys(src: PolicySource, table: Any, keys: Keys, at: KeyPath) -> None:
    if not isinstance(table, dict):
        src.report(at, "must be a table")
        return
    for key, value in table.items():
        if key not in keys:
            src.report((*at, key), f"unknown key; known: {', '.join(keys)}")
        elif (problem := keys[key](value)) is not None:
            src.report((*at, key), problem)


def _check_rule(src: PolicySource, table: Any, keys: Keys, at: KeyPath) -> None:
    """A rule table the file touches must carry its own id and cite."""
    _check_keys(src, table, keys, at)
    if isinstance(table, dict) and any(k in table for k in keys):
        for required in ("id", "cite"):
            if required not in table:
                src.report(at, f"missing key {required!r} (every rule needs an id and a cite)")


def _check_named(src: PolicySource, table: Any, specs: Mapping[str, Keys], at: KeyPath) -> None:
    if not isinstance(table, dict):
        src.report(at, "must be a table")
        return
    for name, sub in table.items():
        if name in specs:
            _check_rule(src, sub, specs[name], (*at, name))
        else:
            src.report((*at, name), f"unknown key; known: {', '.join(specs)}")


def _check_purpose(src: PolicySource, table: Any, at: KeyPath) -> None:
    if not isinstance(table, dict):
        src.report(at, "must be a table")
        return
    own = {k: v for k, v in table.items() if not isinstance(v, dict)}
    _check_rule(src, own, _PURPOSE_KEYS, at)
    _check_named(src, {k: v for k, v in table.items() if isinstance(v, dict)}, _BASIS_KEYS, at)


def check_file(src: PolicySource) -> None:
    """Report every unknown key and bad value of the file itself (before `extends`)."""
    for key, value in src.raw.items():
        at = (key,)
        if key in _TOP_KEYS:
            _check_keys(src, {key: value}, _TOP_KEYS, ())
        elif key == "address":
            _check_rule(src, value, RULE, at)
        elif key == "sources":
            _check_rule(src, value, _SOURCES_KEYS, at)
        elif key == "suppressions":
            _check_named(src, value, dict.fromkeys(SUPPRESSION_REASONS, _SUPPRESSION_KEYS), at)
        elif key == "content":
            _check_named(src, value, _CONTENT_KEYS, at)
        elif key in PURPOSES:
            _check_purpose(src, value, at)
        else:
            src.report(at, f"unknown key; known: {', '.join((*_TOP_KEYS, *_TOP_TABLES))}")
