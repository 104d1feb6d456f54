"""Decide stage: one store look-up for all recipients, then the pure engine per recipient."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from email.message import Message
from functools import partial

from gateway.addresses import canonical, erased_key
from gateway.config import Config
from gateway.pipeline.classify import Classification
from gateway.pipeline.receive import decoded_header
from gateway.pipeline.shadow import shadow_record
from gateway.policy import MessageFacts, Policy, RecipientFacts, Settings, Verdict, decide
from gateway.policy.engine import same_verdicts
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
        self._lookups = Lookups(store)
        self._erasure_key = erasure_key
        self._policies = policies
        self._shadow = shadow
        self._settings = engine_settings(config)

    async def facts(
        self, addresses: Sequence[str], known: Mapping[str, RecipientFacts] | None = None
    ) -> dict[str, RecipientFacts]:
        """What the engine needs per address, in one store call for those not `known`."""
        known = known or {}
        missing = [a for a in addresses if a not in known]
        if not missing:
            return {a: known[a] for a in addresses}
        keys = [canonical(a) for a in missing]
        hashes = [erased_key(self._erasure_key, key) for key in keys]
        found = await self._lookups.recipient_facts(keys, hashes)
        looked_up = {
            address: _with_erasure(found, key, hashed)
            for address, key, hashed in zip(missing, keys, hashes, strict=True)
        }
        if not known:
            return looked_up
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

    def stands(self, before: MessageFacts, after: MessageFacts) -> bool:
        """Whether verdicts decided on `before` are what `after` would get for the same
        facts (engine.same_verdicts): then they stand without deciding again."""
        return same_verdicts(self._policies, before, after)

    async def verdicts(self, addresses: Sequence[str], message: MessageFacts) -> dict[str, Verdict]:
        return self.decide(await self.facts(addresses), message)

    def recorded_address(self, address: str, verdict: Verdict) -> str:
        """How a decision row names the recipient: an erased one only by its hash."""
        key = canonical(address)
        return erased_key(self._erasure_key, key) if verdict.reason == "erased" else key


class Lookups:
    """The look-ups asked for in one turn of the event loop go to the store as one call.

    Concurrent sessions' RCPTs are woken together and each wants one recipient's facts; every
    commit of the spool empties SQLite's page cache for the look-up connection, so a statement
    for several recipients costs little more than one for a single recipient
    (docs/performance.md). The facts are the same as asked one by one: read in one statement,
    at the moment the first of them would have been; a failure is each asker's own."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._open: _Batch | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def recipient_facts(
        self, keys: list[str], hashes: list[str]
    ) -> Mapping[str, RecipientFacts]:
        loop = asyncio.get_running_loop()
        batch = self._open
        if batch is None or batch.loop is not loop:
            # The task's first step runs after the sessions already woken in this turn.
            batch = self._open = _Batch(loop)
            task = loop.create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(partial(self._ended, batch))
        waiter: asyncio.Future[Mapping[str, RecipientFacts]] = loop.create_future()
        batch.keys += keys
        batch.hashes += hashes
        batch.waiters.append(waiter)
        return await waiter

    async def _run(self, batch: _Batch) -> None:
        self._open = None  # those asking from now on go into the next call
        try:
            found = await self._store.recipient_facts(batch.keys, batch.hashes)
        except Exception as exc:
            for waiter in batch.waiters:
                if not waiter.done():
                    waiter.set_exception(exc)
            return
        for waiter in batch.waiters:
            if not waiter.done():  # a session that went away meanwhile
                waiter.set_result(found)

    def _ended(self, batch: _Batch, task: asyncio.Task[None]) -> None:
        """A call cancelled (at shutdown, even before it began) leaves no asker waiting and
        no batch open."""
        self._running.discard(task)
        if self._open is batch:
            self._open = None
        for waiter in batch.waiters:
            waiter.cancel()  # a no-op for those answered


class _Batch:
    __slots__ = ("hashes", "keys", "loop", "waiters")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.keys: list[str] = []
        self.hashes: list[str] = []
        self.waiters: list[asyncio.Future[Mapping[str, RecipientFacts]]] = []


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
