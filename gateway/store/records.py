"""Plain records that cross the store interface. No behaviour, no I/O."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field

from gateway.timefmt import iso_now as iso_now  # stamps decisions (re-exported)

DECISION_FIELDS: tuple[str, ...] = (
    "id",
    "time",
    "instance",
    "session_id",
    "message_id",
    "client",
    "auth_user",
    "sender",
    "recipient",
    "purpose",
    "topic",
    "jurisdiction",
    "phase",
    "action",
    "basis",
    "reason",
    "rule",
    "cite",
)
"""The public fields of a decision, in order (docs/design.md §3); JSON Lines, CSV, the API."""


def new_id() -> str:
    """Time-ordered, URL-safe id: 12 hex digits of milliseconds, then 8 random ones.

    Ids name rows, they guard nothing: the fast PRNG serves (os.urandom is a system call)."""
    return f"{time.time_ns() // 1_000_000:012x}{random.getrandbits(32):08x}"


@dataclass(slots=True)
class Decision:
    time: str
    phase: str
    action: str
    recipient: str
    id: str = field(default_factory=new_id)
    instance: str = ""
    session_id: str = ""
    message_id: str = ""
    client: str = ""
    auth_user: str = ""
    sender: str = ""
    purpose: str = ""
    topic: str = ""
    jurisdiction: str = ""
    basis: str = ""
    reason: str = ""
    rule: str = ""
    cite: str = ""
    queue_id: str = ""
    detail: str = ""
    """Free text for operators: upstream reply, other reasons that applied, warnings."""
    chain_n: int = 0
    chain_prev: str = ""
    chain_hash: str = ""
    """The row's place in its instance's hash chain (gateway/store/chain.py): internal, never
    in the public fields."""

    def public(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in DECISION_FIELDS}


@dataclass(frozen=True, slots=True)
class Who:
    """The session side of a decision record: who sent what, and where it is queued."""

    session_id: str
    client: str
    auth_user: str
    sender: str
    message_id: str = ""
    queue_id: str = ""

    def decision(self, **fields: str) -> Decision:
        return Decision(
            time=iso_now(),
            session_id=self.session_id,
            message_id=self.message_id,
            client=self.client,
            auth_user=self.auth_user,
            sender=self.sender,
            queue_id=self.queue_id,
            **fields,  # type: ignore[arg-type]  # text fields only: the chain's int is the writer's
        )


@dataclass(slots=True)
class SpoolRecipient:
    address: str
    prefix: bytes = b""
    """Header fields for this recipient alone, sent in front of the message."""
    data: bytes | None = None
    """Whole message for this recipient when its body differs (placeholder replaced)."""
    attempts: int = 0
    next_attempt: float = 0.0
    last_reply: str = ""
    status: str = "queued"  # queued | delivered | bounced

    def content(self, shared: bytes) -> bytes:
        return self.prefix + (shared if self.data is None else self.data)

    def pieces(self, head: bytes, shared: bytes) -> tuple[bytes, ...]:
        """What this recipient is sent, in order, never joined: a large message is not
        copied to be sent (issue 11)."""
        body = shared if self.data is None else self.data
        return tuple(piece for piece in (self.prefix, head, body) if piece)


@dataclass(slots=True)
class SpoolMessage:
    """One accepted message: its bytes are kept once, shared by every plain recipient."""

    id: str
    received_at: float
    sender: str
    data: bytes
    recipients: list[SpoolRecipient]
    message_id: str = ""
    session_id: str = ""
    client: str = ""
    auth_user: str = ""
    purpose: str = ""
    topic: str = ""
    head: bytes = b""
    """Fields the gateway puts in front of `data` (trace fields, a shared signature), kept
    apart so the message is not copied to add them; the spool stores head + data as one
    value, so a message read back from it has none."""

    def stored(self) -> bytes:
        """head + data as the spool keeps them."""
        return self._headed(self.data)

    def stored_copy(self, recipient: SpoolRecipient) -> bytes | None:
        """A recipient's body of its own as the spool keeps it: with the head in front, as
        in stored(), since a message read back from the spool has no head to send before
        it (its trace fields, an added Message-ID or Date, would be lost on a retry)."""
        return None if recipient.data is None else self._headed(recipient.data)

    def _headed(self, data: bytes) -> bytes:
        """`data` with the head in front (a copy only when there is a head)."""
        return self.head + data if self.head else data


@dataclass(slots=True)
class RecipientUpdate:
    message_id: str
    """The spool id (SpoolMessage.id), not the Message-ID header."""
    address: str
    status: str
    attempts: int
    next_attempt: float
    last_reply: str


@dataclass(slots=True)
class WriteBatch:
    """Everything written in one transaction: one fsync serves many sessions (group commit)."""

    messages: list[SpoolMessage] = field(default_factory=list)
    updates: list[RecipientUpdate] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    suppressions: list[SuppressionEntry] = field(default_factory=list)
    events: list[OutboundEvent] = field(default_factory=list)
    """Events for the application, written with the rows that caused them (outbox)."""

    def __bool__(self) -> bool:
        return bool(
            self.messages or self.updates or self.decisions or self.suppressions or self.events
        )


@dataclass(slots=True)
class QueueEntry:
    id: str
    received_at: float
    sender: str
    recipient: str
    attempts: int
    next_attempt: float
    last_reply: str
    size: int
    message_id: str


@dataclass(slots=True)
class DecisionQuery:
    since: str | None = None
    until: str | None = None
    action: str | None = None
    reason: str | None = None
    recipient: str | None = None
    message_id: str | None = None
    purpose: str | None = None
    jurisdiction: str | None = None
    sender: str | None = None
    phase: str | None = None
    after: int | None = None
    """Keyset cursor: only rows with a sequence number above this one."""
    before: int | None = None
    limit: int = 1000
    newest_first: bool = False


@dataclass(slots=True)
class ContactRow:
    """One validated row of a contacts import (docs/design.md §4 columns), times as ISO 8601 UTC."""

    line: int
    address: str
    """Canonical address."""
    original: str
    country: str | None = None
    source: str | None = None
    consent_topics: tuple[str, ...] = ()
    consent_at: str | None = None
    double_opt_in_at: str | None = None
    consent_proof: str | None = None
    customer_kind: str | None = None
    last_purchase_at: str | None = None
    purchase_categories: tuple[str, ...] = ()
    last_engaged_at: str | None = None
    objected_scopes: tuple[str, ...] = ()


@dataclass(slots=True)
class ImportCounts:
    rows: int = 0
    contacts_new: int = 0
    consent_events: int = 0
    suppressions: int = 0


@dataclass(slots=True)
class ConsentEvent:
    """Append-only history of a consent (grant, confirm, withdraw, object, unsubscribe,
    resubscribe); the consent's current state follows from it."""

    address: str
    topic: str
    kind: str
    at: str
    source: str = ""
    proof: str = ""
    """JSON text: ip, user_agent, form, text — whatever was recorded."""


@dataclass(slots=True)
class SuppressionEntry:
    address: str
    scope: str
    reason: str
    source: str = ""
    created_at: str = ""


@dataclass(slots=True)
class ContactView:
    """Everything known about one address, for `contacts show`, pages and the API."""

    address: str
    original: str = ""
    country: str | None = None
    source: str | None = None
    created_at: str | None = None
    last_engaged_at: str | None = None
    consents: list[dict[str, str | None]] = field(default_factory=list)
    events: list[ConsentEvent] = field(default_factory=list)
    relationships: list[dict[str, str | None]] = field(default_factory=list)
    suppressions: list[SuppressionEntry] = field(default_factory=list)


@dataclass(slots=True)
class SenderPause:
    """A sender domain the complaint-rate brake paused (docs/design.md §8); `resumed_at`
    set once `gatekeeper senders resume` lifted it."""

    domain: str
    paused_at: str
    resumed_at: str = ""
    detail: str = ""


@dataclass(slots=True)
class OutboundEvent:
    """One event for one application endpoint (docs/design.md §9): the durable outbox row
    the dispatcher POSTs until the endpoint answers 2xx. `id` is the Standard Webhooks
    `webhook-id`, the same on every attempt so the receiver can drop duplicates."""

    id: str
    created_at: str
    endpoint: str
    """The endpoint's URL; its secret is read from the config at each attempt."""
    type: str
    payload: str
    """The JSON body, exactly as signed and sent."""
    status: str = "pending"  # pending | delivered | failed
    attempts: int = 0
    next_attempt: float = 0.0
    last_error: str = ""
    delivered_at: str = ""


@dataclass(frozen=True, slots=True)
class InstanceRow:
    """One gateway instance sharing the store (docs/fleet.md): its heartbeat, and how many
    spooled recipients it holds under a lease."""

    name: str
    started_at: str
    seen_at: float
    """Epoch seconds of its last heartbeat."""
    smtp: str = ""
    http: str = ""
    backlog: int = 0
    """Messages in its memory being or waiting to be delivered, at the last heartbeat."""
    held: int = 0


@dataclass(frozen=True, slots=True)
class QueueCounts:
    """Spooled recipients no living instance is delivering."""

    due: int
    """Due now: new takers welcome (includes `expired`)."""
    retrying: int
    """Deferred, waiting for their next attempt."""
    expired: int
    """Leased by an instance whose lease ran out (it died or lost the database)."""


@dataclass(frozen=True, slots=True)
class SpoolCounts:
    """The spool in three numbers, from indexes alone (/metrics)."""

    recipients: int
    due: int
    """Of those, due now (the rest wait for a retry or are being delivered)."""
    oldest: float | None
    """received_at of the oldest message; None when the spool is empty."""
