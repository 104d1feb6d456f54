"""Load the per-jurisdiction policy files (policies/*.toml) into immutable Policy objects.

Each file is read and checked against the schema on its own, then merged over the policies
it extends, then built: the bases and content requirements through their registries.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from gateway.policy.bases import BASES
from gateway.policy.requirements import REQUIREMENTS
from gateway.policy.rules import (
    Policy,
    PolicyError,
    PurposePolicy,
    Requirement,
    Rule,
    SourceRule,
    SuppressionRule,
    rule_args,
)
from gateway.policy.schema import check_file
from gateway.policy.source import KeyPath, PolicySource, read_source
from gateway.policy.vocab import PURPOSES, SUPPRESSION_REASONS, strictness

# --- extends ------------------------------------------------------------------------------


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _resolve(src: PolicySource, sources: Mapping[str, PolicySource]) -> dict[str, Any] | None:
    """The file's tables over those of the policies it extends; None when the chain is broken."""
    chain = [src]
    while (parent := chain[-1].raw.get("extends")) is not None:
        parent_src = sources.get(str(parent).lower())
        if parent_src is None or parent_src in chain:
            what = "extends itself" if parent_src else "names no policy file in this directory"
            src.report(("extends",), f"{parent!r} {what}")
            return None
        if parent_src.problems:
            return None
        chain.append(parent_src)
    merged: dict[str, Any] = {}
    for link in reversed(chain):
        merged = _merge(merged, {k: v for k, v in link.raw.items() if k != "extends"})
    return merged


# --- building Policy objects from a merged, structurally valid table ----------------------


def _missing(src: PolicySource, table: Mapping[str, Any], at: KeyPath, keys: Sequence[str]) -> bool:
    absent = [key for key in keys if key not in table]
    for key in absent:
        src.report(at, f"missing key {key!r} (here or in the policy it extends)")
    return bool(absent)


def _purpose_problems(
    src: PolicySource, purpose: str, table: Mapping[str, Any], content: Mapping[str, Requirement]
) -> bool:
    """Report what the merged purpose table lacks; True when it cannot be built."""
    at = (purpose,)
    bases = table.get("bases", [])
    treat_as = table.get("treat_as")
    problems: list[tuple[KeyPath, str]] = []
    if not bases and treat_as is None:
        problems.append((at, "needs 'bases' or 'treat_as'"))
    if treat_as is not None and strictness(treat_as) <= strictness(purpose):
        problems.append(((*at, "treat_as"), f"must name a purpose stricter than {purpose!r}"))
    problems += [
        ((*at, "bases"), f"{name!r} has no [{purpose}.{name}] rule")
        for name in bases
        if name not in table
    ]
    problems += [
        ((*at, "content"), f"{name!r} has no [content.{name}] rule")
        for name in table.get("content", [])
        if name not in content
    ]
    for keys, message in problems:
        src.report(keys, message)
    return bool(problems)


def _purpose(
    src: PolicySource, purpose: str, table: Mapping[str, Any], content: Mapping[str, Requirement]
) -> PurposePolicy | None:
    if _missing(src, table, (purpose,), ("id", "cite")):
        return None
    if _purpose_problems(src, purpose, table, content):
        return None
    bases = table.get("bases", [])
    return PurposePolicy(
        id=table["id"],
        cite=table["cite"],
        purpose=purpose,
        bases=MappingProxyType({name: BASES[name].from_table(table[name]) for name in bases}),
        treat_as=table.get("treat_as"),
        content=tuple(content[name] for name in table.get("content", [])),
    )


def _build(src: PolicySource, merged: Mapping[str, Any]) -> Policy | None:
    if _missing(src, merged, (), ("address", "sources", "suppressions", *PURPOSES)):
        return None
    address, sources = merged["address"], merged["sources"]
    suppressions = merged["suppressions"]
    incomplete = any(
        [
            _missing(src, address, ("address",), ("id", "cite")),
            _missing(src, sources, ("sources",), ("id", "cite")),
            _missing(src, suppressions, ("suppressions",), SUPPRESSION_REASONS),
        ]
    )
    content = {
        name: REQUIREMENTS[name].from_table(table)
        for name, table in merged.get("content", {}).items()
    }
    purposes = {p: _purpose(src, p, merged[p], content) for p in PURPOSES}
    if incomplete or any(p is None for p in purposes.values()):
        return None
    return Policy(
        code=src.code,
        name=merged.get("name", src.code.upper()),
        source=src.path,
        extends=src.raw.get("extends"),
        address=Rule(**rule_args(address)),
        sources=SourceRule(**rule_args(sources) | {"deny": frozenset(sources.get("deny", ()))}),
        suppressions=MappingProxyType(
            {r: SuppressionRule(**rule_args(t)) for r, t in suppressions.items()}
        ),
        purposes=MappingProxyType({p: pp for p, pp in purposes.items() if pp is not None}),
    )


def _load(directory: Path) -> tuple[dict[str, Policy], list[str]]:
    paths = sorted(Path(directory).glob("*.toml"))
    sources = {src.code: src for src in map(read_source, paths)}
    for src in sources.values():
        if not src.problems:
            check_file(src)
    policies: dict[str, Policy] = {}
    for code, src in sources.items():
        if src.problems:
            continue
        merged = _resolve(src, sources)
        policy = _build(src, merged) if merged is not None else None
        if policy is not None:
            policies[code] = policy
    problems = [problem for src in sources.values() for problem in src.problems]
    if not sources:
        problems.append(f"{directory}: no policy files (*.toml)")
    return policies, problems


def load_policies(directory: Path) -> dict[str, Policy]:
    """All policies in the directory by code (file name without .toml, lower case)."""
    policies, problems = _load(directory)
    if problems:
        raise PolicyError(problems)
    return policies


def lint(directory: Path) -> list[str]:
    """Every problem in the directory's policy files; empty when they are all valid."""
    return _load(directory)[1]


def default_policy_dir() -> Path:
    """The shipped policy files: package data gateway.policies, mapped from the repository's
    top-level policies/ (pyproject.toml), so a wheel and an editable checkout both find them."""
    return Path(str(importlib.resources.files("gateway.policies")))
