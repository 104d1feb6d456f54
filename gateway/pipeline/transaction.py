"""One mail transaction as the pipeline sees it, from MAIL to the end of DATA (or RSET).

The adapter that speaks SMTP holds one `Transaction` per session and hands it to
gateway.pipeline.accept at each stage; the pipeline never reads the transport. What it needs of the
connection is the `Client` protocol, which the SMTP session satisfies as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from gateway.config import SmtpUser
from gateway.pipeline.classify import Classification
from gateway.policy import MessageFacts, RecipientFacts, Verdict
from gateway.store.records import Who


class Client(Protocol):
    """The connection a transaction arrives on (gateway.smtp.server.GatewaySession)."""

    @property
    def id(self) -> str:
        """Ties the decisions of one connection together."""
        ...

    @property
    def address(self) -> str:
        """`host:port` of the peer, `[v6]:port` for IPv6."""
        ...

    @property
    def user(self) -> SmtpUser | None:
        """The AUTH login, None without one."""
        ...


@dataclass(frozen=True, slots=True)
class Bound:
    """What every RCPT decision of a transaction bound to a stream shares, made once at MAIL
    rather than per recipient."""

    classification: Classification
    message: MessageFacts
    """The message as RCPT knows it: the stream's purpose and topic, no content yet."""
    who: Who


@dataclass(slots=True, eq=False)
class Transaction:
    """What MAIL and RCPT worked out, read again at DATA (docs/design.md §2)."""

    client: Client
    sender: str
    """The envelope sender as the message carries it: empty for the null sender."""
    purpose: str | None
    """The stream's purpose bound at MAIL (classify.stream_for); None when DATA decides."""
    topic: str | None
    relay_refusal: str | None
    """For an outsider who may write only to the unsubscribe address: the reply every
    other recipient gets."""
    bound: Bound | None = None
    """Set when the stream is known at MAIL (`purpose` is not None)."""
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    """The RCPT verdicts of the recipients allowed there, by address as taken."""
    facts: dict[str, RecipientFacts] = field(default_factory=dict)
    """The facts behind those verdicts: DATA decides again on them, moments later."""
    taken: set[str] = field(default_factory=set)
    """canonical() of each recipient taken into the envelope: `A@x` after `a@x` is the same
    mailbox, a duplicate, so it gets one copy, under the spelling taken first."""

    def decided(self, recipients: Iterable[str]) -> MessageFacts | None:
        """The message as RCPT decided each of `recipients` on (all allowed there), or None
        when one of them was not decided at RCPT."""
        if self.bound is None or not all(a in self.verdicts for a in recipients):
            return None
        return self.bound.message
