"""`gatekeeper policy show`: a policy's rules in words, with their ids and citations."""

from __future__ import annotations

from gateway.policy.rules import Policy, Rule


def _rule_line(label: str, rule: Rule, indent: int = 2) -> str:
    return f"{' ' * indent}{label}: {rule.id} — {rule.cite}"


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
            _with_terms(_rule_line(f"basis {name}", rule, 4), rule.terms())
            for name, rule in purpose.bases.items()
        ]
        lines += [
            _with_terms(_rule_line(f"content {rule.name}", rule, 4), rule.terms())
            for rule in purpose.content
        ]
    return "\n".join(lines)
