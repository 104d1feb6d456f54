"""Accept stage: what happens to a message between end of DATA and the 250.

classify -> decide -> record -> transform -> spool (durable) -> hand to delivery.
Any fault of our own answers 451 so the client keeps the message and retries.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from gateway.delivery.worker import LEASE, Delivery
from gateway.receive import Incoming
from gateway.store.records import SpoolMessage, SpoolRecipient, new_id
from gateway.transform.trace import missing_fields, received_field
from gateway.writer import Writer

log = logging.getLogger(__name__)

FAULT = "451 4.3.0 Temporary gateway fault, please try again later"


class Acceptor:
    def __init__(self, *, hostname: str, writer: Writer, delivery: Delivery) -> None:
        self._hostname = hostname
        self._writer = writer
        self._delivery = delivery

    def stream(self, user: Any, sender: str) -> tuple[str | None, str | None]:
        """The purpose (and topic) a session is bound to before RCPT, if any."""
        return None, None

    async def recipient(self, session: Any, sender: str, address: str) -> str | None:
        """A refusal reply for this recipient, or None to accept it."""
        return None

    async def message(self, message: Incoming) -> str:
        queue_id = new_id()
        extra, message_id = missing_fields(message, self._hostname)
        prefix = received_field(message, self._hostname, queue_id) + extra
        now = time.time()
        spooled = SpoolMessage(
            id=queue_id,
            received_at=now,
            sender=message.sender,
            data=prefix.encode() + message.data,
            recipients=[SpoolRecipient(r, next_attempt=now + LEASE) for r in message.recipients],
            message_id=message_id,
            session_id=message.session_id,
            client=message.client,
            auth_user=message.auth_user,
        )
        try:
            await self._writer.spool(spooled)
        except Exception:
            log.exception("could not spool %s", queue_id)
            return FAULT
        self._delivery.submit(spooled)
        return f"250 2.0.0 Ok: queued as {queue_id}"
