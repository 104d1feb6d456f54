"""Local mailboxes: addresses the listener takes mail for itself and never relays.

The unsubscribe address (pipeline/mailto.py, RFC 2369 `mailto:`) and the report mailbox
(pipeline/report_mailbox.py, docs/design.md §8) are both one: anyone may write to them (the
null sender included), the listener answers for them at RCPT, acts on the message at DATA,
and relays nothing. The SMTP adapter asks `owns()`; a message whose every recipient is owned
here may be held to a smaller size limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from gateway.pipeline import replies
from gateway.pipeline.receive import Incoming


class LocalMailbox(Protocol):
    rcpt_reply: str
    """The 250 to a RCPT of one of its addresses."""
    data_reply: str
    """The 250 to a DATA whose recipients were all its own."""

    @property
    def enabled(self) -> bool: ...

    def owns(self, address: str) -> bool: ...

    async def receive(self, message: Incoming, recipients: Sequence[str]) -> None:
        """Act on the message sent to `recipients` (its own addresses); never raises for
        what the message says, only for the gateway's own faults."""


class LocalMailboxes:
    """Every local mailbox, asked in order: the first that owns an address takes it."""

    def __init__(self, *boxes: LocalMailbox) -> None:
        self._boxes = [box for box in boxes if box.enabled]

    @property
    def enabled(self) -> bool:
        return bool(self._boxes)

    def owner(self, address: str) -> LocalMailbox | None:
        return next((box for box in self._boxes if box.owns(address)), None)

    def owns(self, address: str) -> bool:
        return self.owner(address) is not None

    def rcpt_reply(self, address: str) -> str:
        box = self.owner(address)
        return box.rcpt_reply if box is not None else replies.RECIPIENT_OK

    async def receive(self, message: Incoming, recipients: Sequence[str]) -> str:
        """Hand each mailbox its recipients; the reply names what was received when one
        mailbox had them all."""
        owned: dict[int, tuple[LocalMailbox, list[str]]] = {}
        for address in recipients:
            box = self.owner(address)
            if box is not None:
                owned.setdefault(id(box), (box, []))[1].append(address)
        for box, addresses in owned.values():
            await box.receive(message, addresses)
        if len(owned) == 1:
            return next(iter(owned.values()))[0].data_reply
        return replies.DATA_OK
