"""The policy engine: facts and a policy in, a Verdict out (DESIGN §3-§5).

Pure by design: no I/O and no clock reads, so every rule can be tested with a table of
cases. The policy files say which bases, suppressions and content rules apply; this module
says what each of them means.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.policy.facts import (
    ALLOW_BASES,
    DENY_REASONS,
    Consent,
    Content,
    MessageFacts,
    RecipientFacts,
    Relationship,
    Verdict,
)
from gateway.policy.jurisdiction import policy_for_country, resolve_jurisdiction
from gateway.policy.loader import (
    DEFAULT_TOPICS,
    BasisRule,
    ConsentRule,
    ContentRule,
    PendingRule,
    Policy,
    PolicyError,
    PurposePolicy,
    RelationshipRule,
    Rule,
    SuppressionRule,
)

COMBINE_MODES: tuple[str, ...] = ("recipient", "strictest")

# What a failing relationship basis reports: (no such relationship, relationship too old).
_RELATIONSHIP_REASONS: dict[str, tuple[str, str]] = {
    "soft-opt-in": ("no-consent", "soft-opt-in-expired"),
    "implied-consent": ("no-consent", "consent-expired"),
    "customer": ("not-a-customer", "not-a-customer"),
    "legitimate-interest": ("not-a-customer", "not-a-customer"),
}


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
class _Finding:
    reason: str
    rule: Rule
    absent: bool = False
    """The basis found nothing to go on (no such consent or relationship)."""


@dataclass(frozen=True, slots=True)
class _Grant:
    basis: str
    rule: Rule


@dataclass(frozen=True, slots=True)
class _Assessment:
    grant: _Grant | None
    findings: tuple[_Finding, ...]
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Context:
    policy: Policy
    recipient: RecipientFacts
    message: MessageFacts
    now: datetime
    inactive: bool


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
    ctx = _Context(policy, recipient, message, now, inactive)
    assessment = _assess(ctx, message.purpose)
    findings = assessment.findings
    if not recipient.valid_address:
        findings = (_Finding("invalid-address", policy.address), *findings)
    return _verdict(policy.code, assessment.grant, findings, assessment.notes + _warnings(message))


def _verdict(
    code: str, grant: _Grant | None, findings: Iterable[_Finding], notes: tuple[str, ...]
) -> Verdict:
    unique = {(f.reason, f.rule.id): f for f in findings}
    if grant is not None and not unique:
        return Verdict(
            "allow",
            grant.rule.id,
            grant.rule.cite,
            basis=grant.basis,
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


def _assess(ctx: _Context, purpose: str) -> _Assessment:
    rules = ctx.policy.purposes[purpose]
    barriers = _barriers(ctx, purpose)
    grants: list[_Grant] = []
    failures: list[_Finding] = []
    for name, rule in rules.bases.items():
        outcome = _evaluate_basis(ctx, name, rule)
        if isinstance(outcome, _Grant):
            grants.append(outcome)
        else:
            failures.extend(outcome)
    if grants:
        grant = min(grants, key=lambda g: ALLOW_BASES.index(g.basis))
        return _Assessment(grant, barriers + _content(ctx, rules))
    if rules.treat_as is not None:
        inner = _assess(ctx, rules.treat_as)
        note = f"{purpose} treated as {rules.treat_as} ({rules.id})"
        return _Assessment(inner.grant, barriers + inner.findings, (note, *inner.notes))
    # A basis that got somewhere (a dissimilar purchase, an unconfirmed consent) explains the
    # refusal better than one that found nothing.
    specific = tuple(f for f in failures if not f.absent)
    return _Assessment(None, barriers + (specific or tuple(failures)) + _content(ctx, rules))


# --- suppressions and sources --------------------------------------------------------------


def _barriers(ctx: _Context, purpose: str) -> tuple[_Finding, ...]:
    policy, recipient = ctx.policy, ctx.recipient
    found = []
    for suppression in recipient.suppressions:
        # Reasons without a rule of their own (e.g. a manual suppression) act as unsubscribes.
        reason = suppression.reason if suppression.reason in policy.suppressions else "unsubscribed"
        rule = policy.suppressions[reason]
        if _blocks(rule, suppression.scope.lower(), purpose, ctx.message.topic):
            found.append(_Finding(reason, rule))
    if purpose != "transactional" and (recipient.source or "").lower() in policy.sources.deny:
        found.append(_Finding("purchased-list", policy.sources))
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


# --- bases ---------------------------------------------------------------------------------


def _evaluate_basis(ctx: _Context, name: str, rule: BasisRule) -> _Grant | list[_Finding]:
    if isinstance(rule, ConsentRule):
        return _consent(ctx, rule)
    if isinstance(rule, RelationshipRule):
        return _relationship(ctx, name, rule)
    if isinstance(rule, PendingRule):
        return _pending(ctx, rule)
    # transactional and opt-out-regime need nothing beyond the suppression checks
    return _Grant(name, rule)


def _matching_consents(ctx: _Context, templates: Iterable[str]) -> list[Consent]:
    topic, partner = ctx.message.topic, ctx.message.partner
    wanted = {
        template.format(topic=topic, partner=partner).lower()
        for template in templates
        if (topic or "{topic}" not in template) and (partner or "{partner}" not in template)
    }
    return [c for c in ctx.recipient.consents if c.topic.lower() in wanted]


def _withdrawn(consent: Consent) -> bool:
    if consent.withdrawn_at is None:
        return False
    return consent.granted_at is None or consent.withdrawn_at >= consent.granted_at


def _consent_problems(ctx: _Context, consent: Consent, rule: ConsentRule) -> list[str]:
    if _withdrawn(consent):
        return ["consent-withdrawn"]
    failed = {
        "consent-expired": ctx.inactive,
        "double-opt-in-required": rule.double_opt_in and consent.double_opt_in_at is None,
        "consent-unproven": rule.proof and not consent.has_proof,
    }
    return [reason for reason, is_failed in failed.items() if is_failed]


def _consent(ctx: _Context, rule: ConsentRule) -> _Grant | list[_Finding]:
    matching = _matching_consents(ctx, rule.topics)
    if not matching:
        return [_Finding(rule.missing, rule, absent=True)]
    problems = [_consent_problems(ctx, consent, rule) for consent in matching]
    if not all(problems):
        return _Grant("consent", rule)
    return [_Finding(reason, rule) for reasons in problems for reason in reasons]


def _months_before(moment: datetime, months: int) -> datetime:
    year, month0 = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month0 + 1)[1])
    return moment.replace(year=year, month=month0 + 1, day=day)


def _similar(relationships: Iterable[Relationship], category: str | None) -> bool:
    if category is None:
        return False
    wanted = category.lower()
    return any(wanted in {c.lower() for c in r.categories} for r in relationships)


def _relationship(ctx: _Context, name: str, rule: RelationshipRule) -> _Grant | list[_Finding]:
    none_reason, expired_reason = _RELATIONSHIP_REASONS[name]
    known = [r for r in ctx.recipient.relationships if r.kind in rule.window_months]
    if not known:
        return [_Finding(none_reason, rule, absent=True)]
    current = [r for r in known if r.last_at >= _months_before(ctx.now, rule.window_months[r.kind])]
    if not current:
        return [_Finding(expired_reason, rule)]
    if rule.similar and not _similar(current, ctx.message.category):
        return [_Finding("soft-opt-in-dissimilar", rule)]
    return _Grant(name, rule)


def _pending(ctx: _Context, rule: PendingRule) -> _Grant | list[_Finding]:
    pending = [
        c.granted_at
        for c in ctx.recipient.consents
        if c.granted_at is not None and c.double_opt_in_at is None and not _withdrawn(c)
    ]
    if not pending:
        return [_Finding("no-consent", rule, absent=True)]
    if max(pending) < ctx.now - timedelta(hours=rule.window_hours):
        return [_Finding("consent-expired", rule)]
    return _Grant("pending-confirmation", rule)


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


def _content(ctx: _Context, rules: PurposePolicy) -> tuple[_Finding, ...]:
    content = ctx.message.content
    if content is None:
        return ()
    return tuple(
        _Finding(f"missing-{rule.requirement}", rule)
        for rule in rules.content
        if not _content_met(ctx, content, rule)
    )


def _content_met(ctx: _Context, content: Content, rule: ContentRule) -> bool:
    # Only the finding the rule names is asked for: the others may never be worked out.
    if rule.requirement == "subject-label":
        return _labelled(ctx, rule)
    if rule.requirement == "unsubscribe-link":
        return content.has_unsubscribe_link
    if rule.requirement == "sender-identification":
        return content.has_sender_identification
    return content.has_postal_address


def _labelled(ctx: _Context, rule: ContentRule) -> bool:
    if rule.unless_consent and _affirmative_consent(ctx):
        return True
    fields = {"subject": ctx.message.subject, "from": ctx.message.from_header}
    return any(_has_word(fields[name], word) for name in rule.fields for word in rule.words)


def _affirmative_consent(ctx: _Context) -> bool:
    consents = _matching_consents(ctx, DEFAULT_TOPICS)
    return not ctx.inactive and any(not _withdrawn(c) for c in consents)


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, re.IGNORECASE) is not None
