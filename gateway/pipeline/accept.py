"""Accept stage: what happens to a message between its RCPTs and the reply to DATA.

classify -> decide -> record -> transform -> spool (durable) -> hand to delivery.
Any fault of our own answers 451 so the client keeps the message and retries.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

from gateway.config import Config
from gateway.pipeline import replies
from gateway.pipeline.audit import Audit
from gateway.pipeline.brake import Brake
from gateway.pipeline.classify import Classification, classify_message, stream_for
from gateway.pipeline.content import BodyFindings, ContentReader
from gateway.pipeline.decide import Decider, decision_record, message_facts
from gateway.pipeline.delivery.dsn import report_message
from gateway.pipeline.delivery.worker import Delivery
from gateway.pipeline.mailboxes import LocalMailboxes
from gateway.pipeline.mime import TextPart, moved
from gateway.pipeline.receive import Incoming
from gateway.pipeline.replies import FAULT
from gateway.pipeline.transaction import Bound, Client, Transaction
from gateway.pipeline.transform.personalize import Personalizer
from gateway.pipeline.transform.trace import missing_fields, received_field
from gateway.pipeline.transform.unsubscribe import Template
from gateway.pipeline.writer import Writer
from gateway.policy import Verdict
from gateway.policy.facts import Content
from gateway.store.records import Decision, SpoolMessage, SpoolRecipient, Who, new_id

log = logging.getLogger(__name__)


class Acceptor:
    def __init__(
        self,
        *,
        config: Config,
        hostname: str,
        writer: Writer,
        delivery: Delivery,
        decider: Decider,
        audit: Audit,
        personalizer: Personalizer,
        mailbox: LocalMailboxes,
        brake: Brake | None = None,
    ) -> None:
        self.mailbox = mailbox
        self._brake = brake
        self._config = config
        self._hostname = hostname
        self._writer = writer
        self._delivery = delivery
        self._decider = decider
        self._content = ContentReader.from_config(config)
        self._audit = audit
        self._personalizer = personalizer

    def begin(self, client: Client, sender: str, relay_refusal: str | None) -> Transaction:
        """The transaction an accepted MAIL opens, bound to its stream (if any) at once."""
        purpose, topic = stream_for(self._config, client.user, sender)
        transaction = Transaction(client, sender, purpose, topic, relay_refusal)
        if purpose is not None:
            classification = Classification(purpose, "stream", topic=topic)
            transaction.bound = Bound(
                classification, message_facts(classification, None, None), _who(client, sender)
            )
        return transaction

    async def recipient(self, transaction: Transaction, address: str) -> str | None:
        """With the stream known, each recipient is decided here: a real per-recipient 550."""
        bound = transaction.bound
        if bound is None:
            return None
        paused = self._paused(transaction.sender, bound.message.purpose)
        if paused:
            return paused
        classification, facts = bound.classification, bound.message
        try:
            known = await self._decider.facts([address])
            verdict = self._decider.decide(known, facts)[address]
        except Exception:
            log.exception("decision at RCPT failed for %s", address)
            return FAULT
        decision = decision_record(
            bound.who,
            self._decider.recorded_address(address, verdict),
            "rcpt",
            classification,
            verdict,
        )
        self._audit.record(
            [decision, *self._decider.shadow_rows(known, facts, {address: decision})]
        )
        if verdict.allowed:
            transaction.verdicts[address] = verdict
            transaction.facts[address] = known[address]
            return None
        return _refused(
            verdict.reason or "refused", address, verdict, decision, classification, transaction
        )

    def _paused(self, sender: str, purpose: str) -> str | None:
        """The complaint-rate brake's 451 for a paused sender domain (pipeline/brake.py)."""
        return self._brake.refusal(sender, purpose) if self._brake is not None else None

    def invalid_address(
        self, client: Client, field: str, typed: str, problem: str, sender: str
    ) -> str:
        """An address refused at MAIL or RCPT is a decision too: a row with the client's text
        in the field it was typed for, then the 553 that points at it."""
        recipient = typed if field == "recipient" else ""
        who = _who(client, typed if field == "sender" else sender)
        decision = who.decision(
            phase="rcpt",
            action="deny",
            recipient=recipient,
            reason=replies.INVALID_ADDRESS,
            rule=replies.ADDRESS_RULE,
            cite=replies.ADDRESS_CITE,
            detail=problem,
        )
        self._audit.record([decision])
        return replies.bad_address(field, typed, problem, decision.id)

    async def message(self, transaction: Transaction, message: Incoming) -> str:
        try:
            requests = [r for r in message.recipients if self.mailbox.owns(r)]
            if requests:
                received = await self.mailbox.receive(message, requests)
                message.recipients = [r for r in message.recipients if r not in requests]
                if not message.recipients:
                    return received
            return await self._accept(transaction, message)
        except Exception:
            log.exception("accepting a message from %s failed", message.client)
            return FAULT

    async def _accept(self, transaction: Transaction, message: Incoming) -> str:
        if refusal := self._writer.storage_refusal():  # 452 4.3.1 before the disk is full
            return refusal
        queue_id = new_id()
        extra, message_id = missing_fields(message, self._hostname)
        classification, content = classify_message(
            self._config,
            self._content,
            message.data,
            message.headers,
            transaction.purpose,
            transaction.topic,
        )
        paused = self._paused(message.sender, classification.purpose)
        if paused:
            return paused
        commercial = classification.purpose != "transactional"
        footer = self._personalizer.adds_footer(commercial, content)
        who = Who(
            message.session_id,
            message.client,
            message.auth_user,
            message.sender,
            message_id,
            queue_id,
        )
        verdicts, decisions = await self._decide(
            transaction, message, classification, self._content.as_sent(content, footer), who
        )
        allowed = [a for a in message.recipients if verdicts[a].allowed]
        refused = [a for a in message.recipients if not verdicts[a].allowed]
        refusal = self._refusal(
            transaction, classification, len(message.recipients), refused, verdicts, decisions
        )
        if refusal:
            return refusal
        spooled = await self._spooled(
            message, classification, content, footer, allowed, (queue_id, message_id, extra)
        )
        await self._writer.spool(spooled)
        self._delivery.submit(spooled)
        if refused:
            self._report_refusals(
                spooled, refused, verdicts, decisions, classification, transaction
            )
            return replies.queued_partly(
                queue_id, len(allowed), len(message.recipients), decisions[refused[0]].id
            )
        return replies.queued(queue_id)

    async def _spooled(
        self,
        message: Incoming,
        classification: Classification,
        content: BodyFindings,
        footer: bool,
        allowed: list[str],
        ids: tuple[str, str, str],
    ) -> SpoolMessage:
        """The message as the spool keeps it: trace fields in front (`head`, apart from the
        bytes received so that they are not copied: issue 11), a copy per recipient where its
        bytes differ (unsubscribe link, footer, signature)."""
        queue_id, message_id, extra = ids
        commercial = classification.purpose != "transactional"
        shared = self._personalizer.strip(message.data, commercial)
        head = (received_field(message, self._hostname, queue_id) + extra).encode()
        now = time.time()
        # Stripping changes only the top header block, so every text leaf found in the
        # received bytes moved by the same number of bytes.
        parts = moved(content.parts, len(shared) - len(message.data))
        leased = now + self._writer.lease
        copies = await self._copies(
            (head, shared), parts, allowed, classification, footer, leased, queue_id
        )
        if any(not c.prefix and c.data is None for c in copies):
            # recipients without a copy of their own share one signature
            head = await self._personalizer.sign(b"", head, shared) + head
        elif copies and all(c.data is not None for c in copies):
            # every recipient has a body of its own: the first is kept once, as the message's
            shared, copies[0].data = copies[0].data or shared, None
        spooled = SpoolMessage(
            id=queue_id,
            received_at=now,
            sender=message.sender,
            data=shared,
            head=head,
            recipients=copies,
            message_id=message_id,
            session_id=message.session_id,
            client=message.client,
            auth_user=message.auth_user,
            purpose=classification.purpose,
            topic=classification.topic or "",
        )
        return spooled

    def _report_refusals(
        self,
        spooled: SpoolMessage,
        refused: list[str],
        verdicts: dict[str, Verdict],
        decisions: dict[str, Decision],
        classification: Classification,
        transaction: Transaction,
    ) -> None:
        """With `policy.refusal_report`, the sender learns of recipients refused while the
        others were accepted (docs/design.md §2), by the same RFC 3464 report as a bounce."""
        if not spooled.sender or not self._config.policy.refusal_report:
            return
        failed = [
            (
                a,
                _refused(
                    verdicts[a].reason or "refused",
                    a,
                    verdicts[a],
                    decisions[a],
                    classification,
                    transaction,
                ),
            )
            for a in refused
        ]
        self._writer.spool_later(
            report_message(spooled, failed, self._hostname, spooled.received_at)
        )

    async def _decide(
        self,
        transaction: Transaction,
        message: Incoming,
        classification: Classification,
        content: Content,
        who: Who,
    ) -> tuple[dict[str, Verdict], dict[str, Decision]]:
        """Every recipient decided on the whole message; a row for each decision that is
        new, i.e. not the RCPT decision standing (docs/design.md §2: decided again where DATA
        made the purpose stricter or changed the topic, noted something, or where the
        content rules refuse)."""
        facts = message_facts(classification, message.headers, content)
        stands = _stream_unchanged(transaction, classification)
        decided = transaction.decided(message.recipients) if stands else None
        if decided is not None and self._decider.stands(decided, facts):
            # DATA added nothing the engine reads: the RCPT decisions stand as they are
            return {a: transaction.verdicts[a] for a in message.recipients}, {}
        known = await self._decider.facts(message.recipients, transaction.facts)
        verdicts = self._decider.decide(known, facts)
        decisions = {
            address: decision_record(
                who,
                self._decider.recorded_address(address, verdict),
                "data",
                classification,
                verdict,
            )
            for address, verdict in verdicts.items()
            if not (stands and transaction.verdicts.get(address) == verdict)
        }
        self._audit.record(
            [*decisions.values(), *self._decider.shadow_rows(known, facts, decisions)]
        )
        return verdicts, decisions

    def _refusal(
        self,
        transaction: Transaction,
        classification: Classification,
        total: int,
        refused: list[str],
        verdicts: dict[str, Verdict],
        decisions: dict[str, Decision],
    ) -> str | None:
        """The 550 for the whole message, or None when it goes ahead (docs/design.md §2)."""
        allowed = total - len(refused)
        if not refused or (allowed and self._config.policy.partial == "accept"):
            return None
        reasons = Counter(verdicts[a].reason or "refused" for a in refused)
        summary = ", ".join(
            reason if count == 1 and len(refused) == 1 else f"{reason} x{count}"
            for reason, count in reasons.most_common()
        )
        if allowed:
            summary = f"{len(refused)} of {total} recipients refused: {summary}"
        first = refused[0]
        return _refused(
            summary,
            first if len(refused) == 1 else "ADDRESS",
            verdicts[first],
            decisions[first],
            classification,
            transaction,
        )

    async def _copies(
        self,
        message: tuple[bytes, bytes],
        parts: list[TextPart] | None,
        allowed: list[str],
        classification: Classification,
        footer: bool,
        next_attempt: float,
        queue_id: str,
    ) -> list[SpoolRecipient]:
        if classification.purpose == "transactional" or not self._personalizer.personalizes:
            return [SpoolRecipient(a, next_attempt=next_attempt) for a in allowed]
        head, data = message
        scope = classification.topic or classification.purpose
        copies = self._personalizer.recipients(
            Template.of(data, parts),
            allowed,
            scope,
            needs_footer=footer,
            next_attempt=next_attempt,
            queue_id=queue_id,
        )
        for copy in copies:
            copy.prefix = await self._personalizer.sign(copy.prefix, head, copy.data or data)
        return copies


def _stream_unchanged(transaction: Transaction, classification: Classification) -> bool:
    """DATA kept the stream's purpose and topic and had nothing to note: a verdict equal to
    the recipient's RCPT verdict is that decision standing, not a new one."""
    return (
        classification.origin == "stream"
        and classification.topic == transaction.topic
        and not classification.notes
    )


def _refused(
    summary: str,
    address: str,
    verdict: Verdict,
    decision: Decision,
    classification: Classification,
    transaction: Transaction,
) -> str:
    """The teaching 550 (gateway.pipeline.replies.refused) for `verdict`, recorded as `decision`."""
    user = transaction.client.user
    login = user.name if user is not None and user.purpose else None
    source = replies.purpose_source(classification.origin, classification.notes, login)
    return replies.refused(
        summary,
        verdict.reason or "",
        classification.purpose,
        source,
        verdict.rule,
        decision.id,
        address,
    )


def _who(client: Client, sender: str) -> Who:
    user = client.user
    return Who(client.id, client.address, user.name if user is not None else "", sender)
