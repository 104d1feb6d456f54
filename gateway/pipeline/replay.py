"""`gatekeeper policy replay`: recorded traffic decided again, offline, under a candidate
policy set, from what was known of each recipient when it was decided.

Consent events are append-only, so a contact's consents as they stood at a decision's time
are replayed from its history (consent/history.py). Suppressions count from their
`created_at`; a contact, a relationship or an engagement recorded after the decision did not
exist yet. What the store keeps only as its latest value (a relationship's last purchase,
the last engagement) is taken when it is older than the decision and left out when newer.
The body, subject and category are not kept: a decision made at DATA is replayed with the
content as the live decision found it (a content requirement counts as missing only when the
live row names its reason), the subject label and product similarity likewise. Each live
row is compared with the candidate's verdict as `shadow` rows are, so a replay of the
traffic a shadow set saw counts the same differences.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from gateway.consent.history import consents_as_of
from gateway.pipeline.replies import ADDRESS_RULE
from gateway.pipeline.shadow import DECIDED_PHASES, PAGE, Difference, Summary, differs, live_label
from gateway.policy import (
    Consent,
    MessageFacts,
    Policy,
    RecipientFacts,
    Relationship,
    Settings,
    Suppression,
    Verdict,
    decide,
)
from gateway.policy.requirements import SubjectLabel
from gateway.store import Store
from gateway.store.facts_sql import parse_time
from gateway.store.records import ContactView, Decision, DecisionQuery


@dataclass(frozen=True, slots=True)
class RecordedContent:
    """The body as the live decision found it: met unless the row names the reason."""

    named: str

    @property
    def has_unsubscribe_link(self) -> bool:
        return "missing-unsubscribe-link" not in self.named

    @property
    def has_sender_identification(self) -> bool:
        return "missing-sender-identification" not in self.named

    @property
    def has_postal_address(self) -> bool:
        return "missing-postal-address" not in self.named

    @property
    def promotional(self) -> bool:
        return False


async def replay(
    store: Store,
    live: Mapping[str, Policy],
    candidate: Mapping[str, Policy],
    settings: Settings,
    since: str | None,
) -> Summary:
    """Every decision since `since` decided again under `candidate`, compared with the
    verdict recorded; a row the live set no longer reproduces is counted in a note."""
    summary = Summary()
    contacts: dict[str, ContactView | None] = {}
    unreproduced = 0
    labels = label_words(live, candidate)
    after = None
    while True:
        page = await store.decisions(DecisionQuery(since=since, after=after, limit=PAGE))
        for seq, row in page:
            if row.phase not in DECIDED_PHASES or row.rule == ADDRESS_RULE:
                continue
            if row.recipient not in contacts:
                contacts[row.recipient] = await store.contact(row.recipient)
            moment = parse_time(row.time)
            assert moment is not None
            facts = facts_as_of(row.recipient, contacts[row.recipient], moment)
            message = recorded_message(row, labels, facts)
            summary.decisions += 1
            verdict = decide(candidate, facts, message, now=moment, settings=settings)
            if differs(verdict, row):
                summary.add(_difference(seq, row, verdict))
            if differs(decide(live, facts, message, now=moment, settings=settings), row):
                unreproduced += 1
        if len(page) < PAGE:
            break
        after = page[-1][0]
    if unreproduced:
        summary.notes.append(
            f"{unreproduced} recorded verdict(s) not reproduced by the live policy set on the "
            "replayed facts (policy files changed since, or facts kept only as latest value)"
        )
    return summary


def recorded_message(row: Decision, labels: str, facts: RecipientFacts) -> MessageFacts:
    """The message as far as its row records it. The subject and the category are not
    kept: `labels` (every subject-label word of both sets) stands for the subject unless the
    live row says one was missing, and a category of the recipient's relationships for the
    message's unless the live row found it dissimilar."""
    named = f"{row.reason} {row.detail}"
    categories = sorted({c for r in facts.relationships for c in r.categories})
    return MessageFacts(
        purpose=row.purpose,
        topic=row.topic or None,
        category=None if "dissimilar" in named or not categories else categories[0],
        subject="" if "missing-subject-label" in named else labels,
        content=RecordedContent(named) if row.phase == "data" else None,
    )


def label_words(*sets: Mapping[str, Policy]) -> str:
    words = {
        word
        for policies in sets
        for policy in policies.values()
        for purpose in policy.purposes.values()
        for requirement in purpose.content
        if isinstance(requirement, SubjectLabel)
        for word in requirement.words
    }
    return " ".join(sorted(words))


def facts_as_of(address: str, view: ContactView | None, moment: datetime) -> RecipientFacts:
    if view is None:
        return RecipientFacts(address=address)
    created = parse_time(view.created_at)
    known = created is not None and created <= moment
    at = view_time(moment)
    suppressions = tuple(
        Suppression(s.scope, s.reason)
        for s in view.suppressions
        if not s.created_at or (parse_time(s.created_at) or moment) <= moment
    )
    if not known:
        return RecipientFacts(address=address, suppressions=suppressions)
    consents = tuple(
        Consent(
            str(c["topic"]),
            parse_time(c["granted_at"]),
            parse_time(c["double_opt_in_at"]),
            parse_time(c["withdrawn_at"]),
            bool(c["proof"]),
        )
        for c in consents_as_of(view.events, at)
    )
    relationships = tuple(
        Relationship(
            str(r["kind"]), last, frozenset(c for c in (r["categories"] or "").split(";") if c)
        )
        for r in view.relationships
        if (last := parse_time(r["last_at"])) is not None and last <= moment
    )
    engaged = parse_time(view.last_engaged_at)
    return RecipientFacts(
        address=address,
        country=view.country.lower() if view.country else None,
        known=True,
        source=view.source,
        created_at=created,
        last_engaged_at=engaged if engaged is not None and engaged <= moment else None,
        consents=consents,
        relationships=relationships,
        suppressions=suppressions,
    )


def view_time(moment: datetime) -> str:
    """`moment` in the stored text form, to compare with event times."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _difference(seq: int, row: Decision, verdict: Verdict) -> Difference:
    return Difference(
        seq,
        row.time,
        row.recipient,
        verdict.jurisdiction,
        row.purpose,
        verdict.rule,
        f"{verdict.action} {verdict.basis or verdict.reason or '-'}",
        live_label(row.action, row.basis, row.reason, row.rule),
    )
