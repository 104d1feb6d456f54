"""Decide stage: one store look-up for all recipients, then the pure engine per recipient."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from email.message import Message

from gateway.addresses import canonical, erased_key
from gateway.config import Config
from gateway.pipeline.classify import Classification
from gateway.pipeline.receive import decoded_header
from gateway.pipeline.shadow import shadow_record
from gateway.policy import MessageFacts, Policy, RecipientFacts, Settings, Verdict, decide
from gateway.policy.facts import Content
from gateway.store import Store
from gateway.store.records import Decision, Who


class Decider:
    def __init__(
        self,
        store: Store,
        policies: Mapping[str, Policy],
        config: Config,
        erasure_key: bytes,
        shadow: Mapping[str, Policy] | None = None,
    ) -> None:
        self._store = store
        self._erasure_key = erasure_key
        self._policies = policies
        self._shadow = shadow
        self._settings = engine_settings(config)

    async def facts(
        self, addresses: Sequence[str], known: Mapping[str, RecipientFacts] | None = None
    ) -> dict[str, RecipientFacts]:
        """What the engine needs per address, in one store call for those not `known`."""
        known = known or {}
        keys = {a: canonical(a) for a in addresses if a not in known}
        hashes = {key: erased_key(self._erasure_key, key) for key in keys.values()}
        found = await self._store.recipient_facts(list(keys.values()), list(hashes.values()))
        looked_up = {a: _with_erasure(found, key, hashes[key]) for a, key in keys.items()}
        return {a: known[a] if a in known else looked_up[a] for a in addresses}

    def decide(
        self, facts: Mapping[str, RecipientFacts], message: MessageFacts
    ) -> dict[str, Verdict]:
        now = datetime.now(UTC)
        return {
            address: decide(self._policies, recipient, message, now=now, settings=self._settings)
            for address, recipient in facts.items()
        }

    def shadow_rows(
        self,
        facts: Mapping[str, RecipientFacts],
        message: MessageFacts,
        decisions: Mapping[str, Decision],
    ) -> list[Decision]:
        """The candidate set (policy.shadow_directory) decides each recorded decision again
        on the same facts: a `shadow` row where it differs. No shadow set, no work."""
        if self._shadow is None or not decisions:
            return []
        now = datetime.now(UTC)
        rows = (
            shadow_record(
                live,
                decide(self._shadow, facts[address], message, now=now, settings=self._settings),
            )
            for address, live in decisions.items()
        )
        return [row for row in rows if row is not None]

    async def verdicts(self, addresses: Sequence[str], message: MessageFacts) -> dict[str, Verdict]:
        return self.decide(await self.facts(addresses), message)

    def recorded_address(self, address: str, verdict: Verdict) -> str:
        """How a decision row names the recipient: an erased one only by its hash."""
        key = canonical(address)
        return erased_key(self._erasure_key, key) if verdict.reason == "erased" else key


def engine_settings(config: Config) -> Settings:
    """The `policy.*` keys the engine reads."""
    return Settings(
        default_jurisdiction=config.policy.default_jurisdiction.lower(),
        combine=config.policy.combine,
        sender_jurisdiction=(config.identity.jurisdiction or "").lower() or None,
        inactive_after_days=config.policy.inactive_after_days,
    )


def _with_erasure(facts: Mapping[str, RecipientFacts], key: str, hashed: str) -> RecipientFacts:
    """An address erased earlier is known only by its hash: its suppressions still apply."""
    own = facts.get(key) or RecipientFacts(address=key)
    erased = facts.get(hashed)
    if erased is None:
        return own
    return replace(own, suppressions=own.suppressions + erased.suppressions)


def message_facts(
    classification: Classification, headers: Message | None, content: Content | None
) -> MessageFacts:
    """Facts of the message; without `content` (at RCPT) content rules wait for DATA."""
    return MessageFacts(
        purpose=classification.purpose,
        topic=classification.topic,
        category=classification.category,
        partner=classification.partner,
        subject=decoded_header(headers, "Subject") if headers is not None else "",
        from_header=decoded_header(headers, "From") if headers is not None else "",
        content=content,
    )


def decision_record(
    who: Who, recipient: str, phase: str, classification: Classification, verdict: Verdict
) -> Decision:
    """`recipient` as it may be recorded (Decider.recorded_address)."""
    return who.decision(
        phase=phase,
        action=verdict.action,
        recipient=recipient,
        purpose=classification.purpose,
        topic=classification.topic or "",
        jurisdiction=verdict.jurisdiction,
        basis=verdict.basis or "",
        reason=verdict.reason or "",
        rule=verdict.rule,
        cite=verdict.cite,
        detail="; ".join([*classification.notes, *verdict.detail]),
    )
