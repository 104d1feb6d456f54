"""The `mailto:` unsubscribe address (RFC 2369) arriving at the listener: suppress, never relay.

`unsubscribe+TOKEN@DOMAIN` carries the token in the local part; when it would not fit the
64-octet limit (RFC 5321 §4.5.3.1.1) the address is `unsubscribe@DOMAIN?subject=TOKEN`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from gateway.consent.tokens import TokenError, token_from_mail, verify
from gateway.pipeline import optout, replies
from gateway.pipeline.audit import Audit
from gateway.pipeline.receive import Incoming
from gateway.policy.vocab import UNSUBSCRIBE_MIN_DAYS
from gateway.store import Store
from gateway.store.records import iso_now

log = logging.getLogger(__name__)

MAILBOX = "unsubscribe"
SOURCE = "mailto"


class Mailbox:
    """The unsubscribe address: a local mailbox (pipeline/mailboxes.py)."""

    rcpt_reply = replies.UNSUBSCRIBE_ADDRESS_OK
    data_reply = replies.UNSUBSCRIBE_RECEIVED

    def __init__(
        self, store: Store, audit: Audit, keys: Sequence[bytes], domain: str, token_days: int
    ) -> None:
        self._store = store
        self._audit = audit
        self._keys = list(keys)
        self._domain = domain.lower()
        self._max_age = timedelta(days=max(token_days, UNSUBSCRIBE_MIN_DAYS))

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def owns(self, address: str) -> bool:
        local, _, domain = address.rpartition("@")
        base = local.partition("+")[0].lower()
        return self.enabled and domain.lower() == self._domain and base == MAILBOX

    async def receive(self, message: Incoming, recipients: Sequence[str]) -> None:
        """Act on an unsubscribe request; anything unusable is logged and dropped (no
        bounce: a reply would go to an address we cannot trust)."""
        auto = message.header("Auto-Submitted").lower()
        if auto and auto != "no":
            # RFC 3834 §2: automatic replies (vacation notices, ...) must not trigger action.
            log.info(
                "ignored auto-submitted mail to the unsubscribe address from %s", message.sender
            )
            return
        now = datetime.now(UTC)
        for recipient in recipients:
            token = token_from_mail(recipient.rpartition("@")[0], message.header("Subject"))
            if token is None:
                log.info("mail to %s without an unsubscribe token ignored", recipient)
                continue
            try:
                claims = verify(self._keys, token, now, self._max_age)
            except TokenError as exc:
                log.info("unusable unsubscribe token by mail from %s: %s", message.sender, exc)
                continue
            evidence = json.dumps(
                {
                    "time": iso_now(),
                    "client": message.client,
                    "sender": message.sender,
                    "message_id": message.message_id,
                }
            )
            await optout.leave(
                self._store, self._audit, claims.recipient, [claims.scope], SOURCE, evidence
            )
