"""The policy engine: facts and a policy in, a Verdict out (docs/design.md §3-§5).

Pure by design: no I/O and no clock reads, so every rule can be tested with a table of
cases. The policy files say which bases, suppressions and content rules apply; the Basis and
Requirement classes (bases.py, requirements.py) say what each of them means; this module
weighs their findings into one verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.policy.bases import ALLOW_BASES
from gateway.policy.facts import MessageFacts, RecipientFacts, Verdict
from gateway.policy.jurisdiction import policy_for_country, resolve_jurisdiction
from gateway.policy.rules import (
    Basis,
    Context,
    Finding,
    Policy,
    PolicyError,
    PurposePolicy,
    SuppressionRule,
)
from gateway.policy.vocab import COMBINE_MODES, DENY_REASONS


@dataclass(frozen=True, slots=True)
class Settings:
    """The `policy.*` config keys the engine needs."""

    default_jurisdiction: str = "eu"
    combine: str = "recipient"
    sender_jurisdiction: str | None = None
    inactive_after_days: int = 1095
    """0 turns inactivity expiry off."""

    def __post_init__(self) -> None:
        if self.combine not in COMBINE_MODES:
            raise ValueError(f"policy.combine must be one of {', '.join(COMBINE_MODES)}")


@dataclass(frozen=True, slots=True)
class _Assessment:
    grant: Basis | None
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()


def decide(
    policies: Mapping[str, Policy],
    recipient: RecipientFacts,
    message: MessageFacts,
    *,
    now: datetime,
    settings: Settings,
) -> Verdict:
    """May this recipient receive this message, and on which basis or why not."""
    default = settings.default_jurisdiction
    code = resolve_jurisdiction(recipient.address, recipient.country, policies, default)
    verdict = _decide_under(_policy(policies, code), recipient, message, now, settings)
    if settings.combine != "strictest" or not settings.sender_jurisdiction or not verdict.allowed:
        return verdict
    sender_code = policy_for_country(settings.sender_jurisdiction, policies, default)
    if sender_code == code:
        return verdict
    sender_verdict = _decide_under(
        _policy(policies, sender_code), recipient, message, now, settings
    )
    return verdict if sender_verdict.allowed else sender_verdict


def same_verdicts(
    policies: Mapping[str, Policy], before: MessageFacts, after: MessageFacts
) -> bool:
    """Whether every recipient's verdict on `after` is its verdict on `before` (same
    recipient facts, same moment): the message fields the engine reads are equal, and what
    `after` adds (content, Subject, From) is read by no rule of any policy and gives no
    warning. The accept stage lets the RCPT verdicts stand on it instead of deciding again."""
    if _weighed(before) != _weighed(after):
        return False
    if after.content is None and before.content is None:
        return True
    if _warnings(after) or _warnings(before):
        return False
    return not any(_reads_content(policy, after.purpose) for policy in policies.values())


def _weighed(message: MessageFacts) -> tuple[str | None, ...]:
    """What bases and suppressions read of a message (the rest is for content rules)."""
    return (message.purpose, message.topic, message.category, message.partner)


def _reads_content(policy: Policy, purpose: str) -> bool:
    """Content rules for `purpose`, or for a purpose it is treated as (Subject and From
    are read by content rules alone)."""
    seen: set[str] = set()
    while purpose in policy.purposes and purpose not in seen:
        seen.add(purpose)
        rules = policy.purposes[purpose]
        if rules.content:
            return True
        purpose = rules.treat_as or ""
    return False


def _policy(policies: Mapping[str, Policy], code: str) -> Policy:
    if code not in policies:
        raise PolicyError([f"no policy {code!r}; loaded: {', '.join(sorted(policies))}"])
    return policies[code]


def _decide_under(
    policy: Policy,
    recipient: RecipientFacts,
    message: MessageFacts,
    now: datetime,
    settings: Settings,
) -> Verdict:
    inactive = _inactive(recipient, now, settings.inactive_after_days)
    ctx = Context(recipient, message, now, inactive)
    assessment = _assess(policy, ctx, message.purpose)
    findings = assessment.findings
    if not recipient.valid_address:
        findings = (Finding("invalid-address", policy.address), *findings)
    return _verdict(policy.code, assessment.grant, findings, assessment.notes + _warnings(message))


def _verdict(
    code: str, grant: Basis | None, findings: Iterable[Finding], notes: tuple[str, ...]
) -> Verdict:
    unique = {(f.reason, f.rule.id): f for f in findings}
    if grant is not None and not unique:
        return Verdict(
            "allow",
            grant.id,
            grant.cite,
            basis=grant.name,
            jurisdiction=code,
            detail=notes,
        )
    # Validation guarantees a purpose without a grant has a finding, so `first` exists.
    first, *rest = sorted(unique.values(), key=lambda f: (DENY_REASONS.index(f.reason), f.rule.id))
    return Verdict(
        "deny",
        first.rule.id,
        first.rule.cite,
        reason=first.reason,
        jurisdiction=code,
        detail=tuple(f"{f.reason} ({f.rule.id})" for f in rest) + notes,
    )


def _warnings(message: MessageFacts) -> tuple[str, ...]:
    if message.purpose not in ("transactional", "confirmation") or message.content is None:
        return ()
    if message.content.promotional:
        return (f"warning: promotional content in {message.purpose} mail",)
    return ()


def _assess(policy: Policy, ctx: Context, purpose: str) -> _Assessment:
    rules = policy.purposes[purpose]
    barriers = _barriers(policy, ctx, purpose)
    grants: list[Basis] = []
    failures: list[Finding] = []
    for basis in rules.bases.values():
        outcome = basis.evaluate(ctx)
        if isinstance(outcome, Basis):
            grants.append(outcome)
        else:
            failures.extend(outcome)
    if grants:
        grant = min(grants, key=lambda g: ALLOW_BASES.index(g.name))
        return _Assessment(grant, barriers + _content(ctx, rules))
    if rules.treat_as is not None:
        inner = _assess(policy, ctx, rules.treat_as)
        note = f"{purpose} treated as {rules.treat_as} ({rules.id})"
        return _Assessment(inner.grant, barriers + inner.findings, (note, *inner.notes))
    # A basis that got somewhere (a dissimilar purchase, an unconfirmed consent) explains the
    # refusal better than one that found nothing.
    specific = tuple(f for f in failures if not f.absent)
    return _Assessment(None, barriers + (specific or tuple(failures)) + _content(ctx, rules))


# --- suppressions and sources --------------------------------------------------------------


def _barriers(policy: Policy, ctx: Context, purpose: str) -> tuple[Finding, ...]:
    recipient = ctx.recipient
    found = []
    for suppression in recipient.suppressions:
        # Reasons without a rule of their own (e.g. a manual suppression) act as unsubscribes.
        reason = suppression.reason if suppression.reason in policy.suppressions else "unsubscribed"
        rule = policy.suppressions[reason]
        if _blocks(rule, suppression.scope.lower(), purpose, ctx.message.topic):
            found.append(Finding(reason, rule))
    if purpose != "transactional" and (recipient.source or "").lower() in policy.sources.deny:
        found.append(Finding("purchased-list", policy.sources))
    return tuple(found)


def _blocks(rule: SuppressionRule, scope: str, purpose: str, topic: str | None) -> bool:
    if rule.blocks == "everything":
        return True
    if purpose == "transactional":
        return False
    if rule.blocks == "non-transactional" or scope in ("all", purpose):
        return True
    # Leaving "marketing" also means no offers on behalf of partners (fail safe).
    partner_offer = scope == "marketing" and purpose == "partner-marketing"
    return partner_offer or (topic is not None and scope == topic.lower())


def _inactive(recipient: RecipientFacts, now: datetime, after_days: int) -> bool:
    if after_days <= 0:
        return False
    moments = [
        recipient.last_engaged_at,
        *(c.double_opt_in_at for c in recipient.consents),
        *(c.granted_at for c in recipient.consents),
        *(r.last_at for r in recipient.relationships if r.kind == "purchase"),
    ]
    known = [moment for moment in moments if moment is not None]
    return bool(known) and max(known) < now - timedelta(days=after_days)


# --- content -------------------------------------------------------------------------------


def _content(ctx: Context, rules: PurposePolicy) -> tuple[Finding, ...]:
    content = ctx.message.content
    if content is None:
        return ()
    return tuple(Finding(rule.reason, rule) for rule in rules.content if not rule.met(ctx, content))
