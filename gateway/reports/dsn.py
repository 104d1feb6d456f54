"""RFC 3464 delivery status notifications: every per-recipient block, classified."""

from __future__ import annotations

from gateway.reports import fields
from gateway.reports.classify import classify
from gateway.reports.fields import Block
from gateway.reports.model import DELIVERED, RecipientOutcome

# RFC 3464 §2.3.3: the actions that are not failures. Some MTAs add comments ("failed
# (bad destination)") and OpenSMTPD writes "error": only the first word counts.
_SUCCESS = frozenset({"delivered", "relayed", "expanded"})
_RECIPIENT_FIELDS = frozenset({"final-recipient", "original-recipient", "action", "status"})


def split_blocks(blocks: list[Block]) -> tuple[Block, list[Block]]:
    """The per-message block and the per-recipient ones (§2.1), tolerating a missing first."""
    per_message: Block = []
    recipients: list[Block] = []
    for block in blocks:
        if any(name in _RECIPIENT_FIELDS for name, _ in block):
            recipients.append(block)
        elif not recipients and not per_message:
            per_message = block
    return per_message, recipients


def recipient(block: Block) -> RecipientOutcome | None:
    """One per-recipient block as an outcome; None if it names no recipient at all."""
    final = fields.typed_value(fields.get(block, "final-recipient"))
    original = fields.typed_value(fields.get(block, "original-recipient"))
    actual = fields.typed_value(fields.get(block, "x-actual-recipient"))
    chosen = original if "@" in original else final or actual
    if not chosen:
        return None
    action = fields.get(block, "action").lower().split(" ")[0].split("(")[0]
    raw_status = fields.get(block, "status")
    diagnostic = fields.one_line(fields.get(block, "diagnostic-code"))
    # The Status field may carry a comment ("5.0.0 (recipient reached disk quota)"), and
    # the diagnostic a better code than the status ("5.0.0" vs "550 5.1.1 user unknown").
    status = fields.status_in(raw_status) or fields.status_in(diagnostic)
    detailed = fields.status_in(diagnostic)
    if status.endswith(".0.0") and detailed and detailed[0] == status[0]:
        status = detailed
    comment = raw_status.partition(" ")[2]
    if action in _SUCCESS:
        outcome, why = DELIVERED, f"action {action}"
    else:
        outcome, why = classify(action, status, f"{comment} {diagnostic}".strip())
    return RecipientOutcome(
        address=fields.address(chosen),
        outcome=outcome,
        why=why,
        final=final,
        original=original,
        action=action,
        status=status,
        diagnostic=diagnostic or fields.one_line(comment),
        remote_mta=fields.typed_value(fields.get(block, "remote-mta")),
    )
