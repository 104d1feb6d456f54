"""The store's one narrow async interface, which both engines implement.

Writes go through `commit(WriteBatch)` so that one transaction (and one fsync) serves many
SMTP sessions at once; see gateway/pipeline/writer.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Protocol

from gateway.policy.facts import RecipientFacts
from gateway.store.chain import Anchor, ChainRow
from gateway.store.records import (
    ConsentEvent,
    ContactRow,
    ContactView,
    Decision,
    DecisionQuery,
    ImportCounts,
    InstanceRow,
    OutboundEvent,
    QueueCounts,
    QueueEntry,
    SenderPause,
    SpoolCounts,
    SpoolMessage,
    SuppressionEntry,
    WriteBatch,
)


class StoreError(Exception):
    """The store cannot be used (bad URL, schema newer than this code, ...)."""


class Store(Protocol):
    url: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None: ...

    async def commit(self, batch: WriteBatch) -> None:
        """Write the batch in one durable transaction."""

    async def spool_claim(self, now: float, lease: float, limit: int) -> list[SpoolMessage]:
        """Messages with recipients due at `now`, leased for `lease` seconds to this caller."""

    async def spool_release(self, now: float) -> int:
        """Make every queued recipient due now (start-up of the only instance)."""

    # -- several instances on one store (docs/fleet.md) -------------------------------------
    holder: str
    """This instance's name: what it spools or claims is held by it under the lease."""

    async def spool_renew(self, ids: Sequence[str], until: float) -> set[str]:
        """Extend this instance's lease on these messages; returns those it still holds."""

    async def spool_release_held(self, now: float, holder: str | None = None) -> int:
        """At a clean stop: the recipients this instance (or `holder`, one of its worker
        processes that died) holds are due now for the others."""

    async def heartbeat(self, row: InstanceRow) -> None: ...

    async def instances(self, now: float) -> tuple[list[InstanceRow], QueueCounts]:
        """Instances with their heartbeat and held recipients; the queue nobody holds."""

    async def spool_list(self) -> list[QueueEntry]: ...

    async def spool_counts(self, now: float) -> SpoolCounts:
        """Recipients waiting, those due at `now`, the oldest arrival: from indexes alone."""

    async def spool_page(
        self, after: tuple[float, str, str] | None, limit: int
    ) -> list[QueueEntry]:
        """Queued recipients in arrival order after (received_at, id, recipient): keyset."""

    async def write_probe(self) -> None:
        """One small write in its own transaction: raises when the store cannot commit."""

    async def spool_retry(self, ids: Sequence[str], now: float) -> int:
        """Make the given messages (all when empty) due now; returns recipients touched."""

    async def decisions(self, query: DecisionQuery) -> list[tuple[int, Decision]]:
        """Decisions matching the query with their sequence numbers, for keyset paging."""

    async def decision_counts(self, since: str | None = None) -> dict[str, list[tuple[str, int]]]:
        """Decisions since a time, counted by action, reason, purpose, jurisdiction, phase."""

    # -- reports that come back: the complaint-rate brake ----------------------------------
    async def sender_counts(self, since: str) -> list[tuple[str, str, int]]:
        """(envelope sender, `delivered`, `complaint` or `sender-side`, count) of
        non-transactional mail since a time: delivery rows and report rows."""

    async def sender_pauses(self) -> list[SenderPause]:
        """Every domain the brake paused, resumed ones included."""

    async def pause_sender(self, domain: str, at: str, detail: str) -> bool:
        """Pause a domain; False when it is paused already."""

    async def resume_sender(self, domain: str, at: str) -> bool:
        """Lift a pause; False when the domain was not paused."""

    # -- events to the application and provider webhooks (docs/design.md §8-§9) ----------
    async def events_claim(self, now: float, lease: float, limit: int) -> list[OutboundEvent]:
        """Pending events due at `now`, leased for `lease` seconds to this caller."""

    async def events_record(self, events: Sequence[OutboundEvent]) -> None:
        """Store the outcome of attempts: status, attempts, next_attempt, last_error."""

    async def events_list(
        self, status: str | None = None, limit: int = 100, before: tuple[str, str] | None = None
    ) -> list[OutboundEvent]:
        """Newest first, of one status or all; `before` (created_at, id): only older ones."""

    async def events_retry(self, ids: Sequence[str], now: float) -> int:
        """Make the given events (all not yet delivered when empty) pending and due now."""

    async def hook_seen(self, provider: str, key: str, now: float, keep: float) -> bool:
        """Remember a provider request's id; False when it was seen within `keep` seconds."""

    async def hook_unsee(self, provider: str, key: str) -> None:
        """Forget an id whose request could not be applied, so the provider's retry is taken."""

    # -- consent and suppression ------------------------------------------------------------
    async def recipient_facts(
        self, addresses: Sequence[str], suppressed_only: Sequence[str] = ()
    ) -> dict[str, RecipientFacts]:
        """Everything the policy engine needs for these canonical addresses, in one call,
        and the suppressions of `suppressed_only` (keys that only the suppression list
        holds: erased addresses' hashes).

        Addresses with no contact row and no suppression are left out.
        """

    async def import_contacts(self, rows: Iterable[ContactRow]) -> ImportCounts:
        """All or nothing: an exception from `rows` (a bad line) rolls everything back."""

    async def contact(self, address: str) -> ContactView | None: ...

    async def record_consent(self, events: Sequence[ConsentEvent]) -> None:
        """Append the events and update each consent's current state from them."""

    async def suppress(self, entries: Sequence[SuppressionEntry]) -> int:
        """Add suppressions (an existing address+scope+reason is kept); returns how many
        were new."""

    async def opt_out(
        self, entries: Sequence[SuppressionEntry], events: Sequence[ConsentEvent]
    ) -> list[SuppressionEntry]:
        """Add suppressions and, in the same transaction, the consent events of those that
        were new (an event goes with the entry of its address whose scope is its topic);
        returns the new entries. A crash keeps both or neither."""

    async def unsuppress(
        self, address: str, scope: str | None = None, reason: str | None = None
    ) -> int: ...

    async def suppressions(
        self,
        address: str | None = None,
        limit: int = 1000,
        after: tuple[str, str, str] | None = None,
    ) -> list[SuppressionEntry]:
        """Ordered by address, scope, reason; `after` = (address, scope, reason) of the last
        entry of the previous page (keyset paging)."""

    # -- retention and erasure ---------------------------------------------------------------
    async def meta(self, name: str, default: str) -> str:
        """A stored setting; `default` is stored and returned the first time."""

    async def forget(self, address: str, hashed: str) -> dict[str, int]:
        """Erase an address (GDPR art. 17): personal data deleted, the address replaced by
        `hashed` wherever a record must stay, and an `erased` suppression kept under `hashed`.
        Returns rows touched per table."""

    async def purge(self, decisions_before: str, inactive_before: str, now: str) -> dict[str, int]:
        """Retention: decisions older than `decisions_before` deleted; consents of contacts
        inactive since before `inactive_before` removed, each recorded as an `expire` event."""

    # -- the decision log's hash chain (docs/accountability.md) ------------------------------
    async def chain_head(self, instance: str) -> tuple[int, str]:
        """(position, hash) the instance's next decision row links to."""

    async def chain_instances(self) -> list[str]: ...

    async def chain_anchors(self, instance: str) -> list[Anchor]:
        """Purge anchors and recorded checkpoints of the instance, by position."""

    async def chain_legacy_seq(self) -> int:
        """The last decision row written before the chain existed (0: none)."""

    def chain_rows(self, instance: str, since: str | None = None) -> AsyncIterator[ChainRow]:
        """The instance's rows in seq order (from its first row at or after `since`)."""

    async def save_anchor(self, anchor: Anchor, rows: int = 0) -> None: ...
