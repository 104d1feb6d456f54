"""Load, validate and describe the per-jurisdiction policy files (policies/*.toml).

The files are data; this module turns them into immutable Policy objects the engine reads.
tomllib reports no positions, so problems are located by scanning the file text for the
offending key, which is good enough for hand-written files.
"""

from __future__ import annotations

import importlib.resources
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from gateway.policy.facts import ALLOW_BASES, DENY_REASONS, PURPOSES, strictness

SUPPRESSION_REASONS: tuple[str, ...] = (
    "hard-bounce",
    "complaint",
    "unsubscribed",
    "objected",
    "erased",
)
CONTENT_REQUIREMENTS: tuple[str, ...] = (
    "unsubscribe-link",
    "sender-identification",
    "postal-address",
    "subject-label",
)
SUPPRESSION_BLOCKS: tuple[str, ...] = ("everything", "non-transactional", "scope")
RELATIONSHIP_KINDS: tuple[str, ...] = ("purchase", "inquiry")
RELATIONSHIP_BASES: tuple[str, ...] = (
    "soft-opt-in",
    "implied-consent",
    "customer",
    "legitimate-interest",
)
DEFAULT_TOPICS: tuple[str, ...] = ("{topic}", "marketing")


class PolicyError(Exception):
    """One or more problems in policy files, each as "FILE:LINE: KEY: what is wrong"."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    cite: str


@dataclass(frozen=True, slots=True)
class ConsentRule(Rule):
    double_opt_in: bool = False
    proof: bool = False
    topics: tuple[str, ...] = DEFAULT_TOPICS
    """Consent topics that count; "{topic}" and "{partner}" are filled from the message."""
    missing: str = "no-consent"


@dataclass(frozen=True, slots=True)
class RelationshipRule(Rule):
    window_months: Mapping[str, int] = field(
        default_factory=lambda: MappingProxyType({"purchase": 24})
    )
    """Accepted relationship kinds and how many months each lasts."""
    similar: bool = False


@dataclass(frozen=True, slots=True)
class PendingRule(Rule):
    window_hours: int = 48


@dataclass(frozen=True, slots=True)
class SourceRule(Rule):
    deny: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class SuppressionRule(Rule):
    blocks: str = "scope"


@dataclass(frozen=True, slots=True)
class ContentRule(Rule):
    requirement: str = ""
    words: tuple[str, ...] = ()
    fields: tuple[str, ...] = ("subject",)
    unless_consent: bool = False


BasisRule = ConsentRule | RelationshipRule | PendingRule | Rule


@dataclass(frozen=True, slots=True)
class PurposePolicy(Rule):
    purpose: str = ""
    bases: Mapping[str, BasisRule] = field(default_factory=lambda: MappingProxyType({}))
    treat_as: str | None = None
    content: tuple[ContentRule, ...] = ()


@dataclass(frozen=True, slots=True)
class Policy:
    code: str
    name: str
    source: Path
    extends: str | None
    address: Rule
    sources: SourceRule
    suppressions: Mapping[str, SuppressionRule]
    purposes: Mapping[str, PurposePolicy]


# --- value checks: each returns what is wrong, or None ------------------------------------

Check = Callable[[Any], str | None]


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) and value.strip() else "must be a non-empty string"


def _rule_id(value: Any) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"[a-z0-9][a-z0-9.:-]*", value):
        return None
    return 'must be a lower-case id such as "cz.marketing.soft-opt-in"'


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _positive_int(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
    return None if ok else "must be a positive integer"


def _one_of(options: Sequence[str]) -> Check:
    def check(value: Any) -> str | None:
        return None if value in options else f"must be one of {', '.join(options)}"

    return check


def _list_of(options: Sequence[str] | None) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, list) or not all(_text(item) is None for item in value):
            return "must be a list of non-empty strings"
        unknown = [item for item in value if options is not None and item not in options]
        return (
            f"unknown {', '.join(unknown)}; known: {', '.join(options or ())}" if unknown else None
        )

    return check


def _topics(value: Any) -> str | None:
    problem = _list_of(None)(value)
    if problem is None:
        try:
            for template in value:
                template.format(topic="t", partner="p")
        except (KeyError, IndexError, ValueError):
            return "may only use the placeholders {topic} and {partner}"
    return problem


def _window_months(value: Any) -> str | None:
    ok = (
        isinstance(value, dict)
        and value
        and all(
            kind in RELATIONSHIP_KINDS and _positive_int(n) is None for kind, n in value.items()
        )
    )
    return None if ok else "must be a table such as { purchase = 24, inquiry = 6 }"


_RULE: dict[str, Check] = {"id": _rule_id, "cite": _text}
_RELATIONSHIP: dict[str, Check] = {**_RULE, "window_months": _window_months, "similar": _bool}
_BASIS_KEYS: dict[str, dict[str, Check]] = {
    "consent": {
        **_RULE,
        "double_opt_in": _bool,
        "proof": _bool,
        "topics": _topics,
        "missing": _one_of(DENY_REASONS),
    },
    **{basis: _RELATIONSHIP for basis in RELATIONSHIP_BASES},
    "pending-confirmation": {**_RULE, "window_hours": _positive_int},
    "transactional": _RULE,
    "opt-out-regime": _RULE,
}
_CONTENT_KEYS: dict[str, dict[str, Check]] = {
    **{name: _RULE for name in CONTENT_REQUIREMENTS},
    "subject-label": {
        **_RULE,
        "words": _list_of(None),
        "fields": _list_of(("subject", "from")),
        "unless_consent": _bool,
    },
}
_PURPOSE_KEYS: dict[str, Check] = {
    **_RULE,
    "bases": _list_of(ALLOW_BASES),
    "treat_as": _one_of(PURPOSES),
    "content": _list_of(CONTENT_REQUIREMENTS),
}
_SUPPRESSION_KEYS: dict[str, Check] = {**_RULE, "blocks": _one_of(SUPPRESSION_BLOCKS)}
_SOURCES_KEYS: dict[str, Check] = {**_RULE, "deny": _list_of(None)}
_TOP_KEYS: dict[str, Check] = {"name": _text, "extends": _text}
_TOP_TABLES = ("address", "sources", "suppressions", "content", *PURPOSES)


# --- locating keys in the file text ------------------------------------------------------

_HEADER = re.compile(r"^\s*\[\[?([^\[\]]+)\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*([\w"'. -]+?)\s*=""")

KeyPath = tuple[str, ...]


def _key_parts(dotted: str) -> KeyPath:
    return tuple(part.strip().strip("\"'") for part in dotted.split("."))


def _line_index(text: str) -> dict[KeyPath, int]:
    """First line of every table header and key, by full key path."""
    index: dict[KeyPath, int] = {}
    table: KeyPath = ()
    for number, line in enumerate(text.splitlines(), 1):
        if header := _HEADER.match(line):
            table = _key_parts(header[1])
            index.setdefault(table, number)
        elif key := _KEY.match(line):
            index.setdefault(table + _key_parts(key[1]), number)
    return index


@dataclass
class _Source:
    """One policy file: its raw TOML and where to report problems in it."""

    code: str
    path: Path
    raw: dict[str, Any]
    lines: dict[KeyPath, int]
    problems: list[str]

    def report(self, keys: KeyPath, message: str) -> None:
        line = next(
            (self.lines[keys[:n]] for n in range(len(keys), 0, -1) if keys[:n] in self.lines), 1
        )
        self.problems.append(f"{self.path}:{line}: {'.'.join(keys) or '(file)'}: {message}")


def _read(path: Path) -> _Source:
    text = path.read_text(encoding="utf-8")
    source = _Source(path.stem.lower(), path, {}, _line_index(text), [])
    try:
        source.raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        source.problems.append(f"{path}: invalid TOML: {err}")
    return source


# --- per-file structure check ------------------------------------------------------------


def _check_keys(src: _Source, table: Any, keys: dict[str, Check], at: KeyPath) -> None:
    if not isinstance(table, dict):
        src.report(at, "must be a table")
        return
    for key, value in table.items():
        if key not in keys:
            src.report((*at, key), f"unknown key; known: {', '.join(keys)}")
        elif (problem := keys[key](value)) is not None:
            src.report((*at, key), problem)


def _check_rule(src: _Source, table: Any, keys: dict[str, Check], at: KeyPath) -> None:
    """A rule table the file touches must carry its own id and cite."""
    _check_keys(src, table, keys, at)
    if isinstance(table, dict) and any(k in table for k in keys):
        for required in ("id", "cite"):
            if required not in table:
                src.report(at, f"missing key {required!r} (every rule needs an id and a cite)")


def _check_named(
    src: _Source, table: Any, specs: Mapping[str, dict[str, Check]], at: KeyPath
) -> None:
    if not isinstance(table, dict):
        src.report(at, "must be a table")
        return
    for name, sub in table.items():
        if name in specs:
            _check_rule(src, sub, specs[name], (*at, name))
        else:
            src.report((*at, name), f"unknown key; known: {', '.join(specs)}")


def _check_purpose(src: _Source, table: Any, at: KeyPath) -> None:
    if not isinstance(table, dict):
        src.report(at, "must be a table")
        return
    own = {k: v for k, v in table.items() if not isinstance(v, dict)}
    _check_rule(src, own, _PURPOSE_KEYS, at)
    _check_named(src, {k: v for k, v in table.items() if isinstance(v, dict)}, _BASIS_KEYS, at)


def _check_file(src: _Source) -> None:
    for key, value in src.raw.items():
        at = (key,)
        if key in _TOP_KEYS:
            _check_keys(src, {key: value}, _TOP_KEYS, ())
        elif key == "address":
            _check_rule(src, value, _RULE, at)
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


# --- extends ------------------------------------------------------------------------------


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _resolve(src: _Source, sources: Mapping[str, _Source]) -> dict[str, Any] | None:
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


def _missing(src: _Source, table: Mapping[str, Any], at: KeyPath, keys: Sequence[str]) -> bool:
    absent = [key for key in keys if key not in table]
    for key in absent:
        src.report(at, f"missing key {key!r} (here or in the policy it extends)")
    return bool(absent)


def _rule_args(table: Mapping[str, Any]) -> dict[str, Any]:
    return {key: tuple(v) if isinstance(v, list) else v for key, v in table.items()}


def _basis(name: str, table: Mapping[str, Any]) -> BasisRule:
    args = _rule_args(table)
    if name == "consent":
        return ConsentRule(**args)
    if name in RELATIONSHIP_BASES:
        if "window_months" in args:
            args["window_months"] = MappingProxyType(dict(args["window_months"]))
        return RelationshipRule(**args)
    if name == "pending-confirmation":
        return PendingRule(**args)
    return Rule(**args)


def _purpose(
    src: _Source, purpose: str, table: Mapping[str, Any], content: Mapping[str, ContentRule]
) -> PurposePolicy | None:
    at = (purpose,)
    if _missing(src, table, at, ("id", "cite")):
        return None
    bases = table.get("bases", [])
    treat_as = table.get("treat_as")
    ok = True
    if not bases and treat_as is None:
        src.report(at, "needs 'bases' or 'treat_as'")
        ok = False
    if treat_as is not None and strictness(treat_as) <= strictness(purpose):
        src.report((*at, "treat_as"), f"must name a purpose stricter than {purpose!r}")
        ok = False
    for name in bases:
        if name not in table:
            src.report((*at, "bases"), f"{name!r} has no [{purpose}.{name}] rule")
            ok = False
    for name in table.get("content", []):
        if name not in content:
            src.report((*at, "content"), f"{name!r} has no [content.{name}] rule")
            ok = False
    if not ok:
        return None
    return PurposePolicy(
        id=table["id"],
        cite=table["cite"],
        purpose=purpose,
        bases=MappingProxyType({name: _basis(name, table[name]) for name in bases}),
        treat_as=treat_as,
        content=tuple(content[name] for name in table.get("content", [])),
    )


def _build(src: _Source, merged: Mapping[str, Any]) -> Policy | None:
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
        name: ContentRule(requirement=name, **_rule_args(table))
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
        address=Rule(**_rule_args(address)),
        sources=SourceRule(**_rule_args(sources) | {"deny": frozenset(sources.get("deny", ()))}),
        suppressions=MappingProxyType(
            {r: SuppressionRule(**_rule_args(t)) for r, t in suppressions.items()}
        ),
        purposes=MappingProxyType({p: pp for p, pp in purposes.items() if pp is not None}),
    )


def _load(directory: Path) -> tuple[dict[str, Policy], list[str]]:
    sources = {src.code: src for src in map(_read, sorted(Path(directory).glob("*.toml")))}
    for src in sources.values():
        if not src.problems:
            _check_file(src)
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


# --- describe ----------------------------------------------------------------------------


def _rule_line(label: str, rule: Rule, indent: int = 2) -> str:
    return f"{' ' * indent}{label}: {rule.id} — {rule.cite}"


def _basis_terms(rule: BasisRule) -> str:
    if isinstance(rule, ConsentRule):
        flags = {"double opt-in": rule.double_opt_in, "proof recorded": rule.proof}
        return "; ".join(
            [f"topics {', '.join(rule.topics)}", *(f for f, on in flags.items() if on)]
        )
    if isinstance(rule, RelationshipRule):
        windows = ", ".join(
            f"{kind} {months} months" for kind, months in rule.window_months.items()
        )
        return windows + ("; similar products only" if rule.similar else "")
    if isinstance(rule, PendingRule):
        return f"granted within {rule.window_hours} h"
    return ""


def _content_terms(rule: ContentRule) -> str:
    if rule.requirement != "subject-label":
        return ""
    unless = "; not needed with consent" if rule.unless_consent else ""
    return f"one of {', '.join(rule.words)} in {', '.join(rule.fields)}{unless}"


def _with_terms(line: str, terms: str) -> str:
    return f"{line}\n      ({terms})" if terms else line


def describe(policy: Policy) -> str:
    """Human-readable listing of a policy's rules with their ids and citations."""
    extends = f", extends {policy.extends}" if policy.extends else ""
    lines = [
        f"{policy.code} — {policy.name} ({policy.source}{extends})",
        _rule_line("invalid address", policy.address),
        _rule_line(f"sources refused ({', '.join(sorted(policy.sources.deny))})", policy.sources),
    ]
    lines += [
        _rule_line(f"suppression {reason} blocks {rule.blocks}", rule)
        for reason, rule in policy.suppressions.items()
    ]
    for purpose in policy.purposes.values():
        treat = f"; otherwise as {purpose.treat_as}" if purpose.treat_as else ""
        lines.append(_rule_line(f"{purpose.purpose}{treat}", purpose))
        lines += [
            _with_terms(_rule_line(f"basis {name}", rule, 4), _basis_terms(rule))
            for name, rule in purpose.bases.items()
        ]
        lines += [
            _with_terms(_rule_line(f"content {rule.requirement}", rule, 4), _content_terms(rule))
            for rule in purpose.content
        ]
    return "\n".join(lines)
