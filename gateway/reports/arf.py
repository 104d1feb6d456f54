"""RFC 5965 abuse reports (feedback loops): the feedback type decides the outcome."""

from __future__ import annotations

from typing import Final

from gateway.reports import fields
from gateway.reports.fields import Block
from gateway.reports.model import COMPLAINT, DELIVERED, SENDER, UNSUBSCRIBE, RecipientOutcome

# RFC 5965 §7.3 registry, RFC 6591 (auth-failure) and RFC 6650 §3 ("not-spam"): what each
# says about the recipient. "not-spam" (the person moved it out of the spam folder) is no
# complaint: it is recorded like a delivery report and otherwise ignored.
_OUTCOMES: Final = {
    "abuse": COMPLAINT,
    "fraud": COMPLAINT,
    "virus": COMPLAINT,
    "other": COMPLAINT,
    "opt-out": UNSUBSCRIBE,
    "optout": UNSUBSCRIBE,
    "unsubscribe": UNSUBSCRIBE,
    "auth-failure": SENDER,
    "dkim": SENDER,  # older drafts of RFC 6591
    "not-spam": DELIVERED,
}


def recipients(block: Block, original: Block) -> tuple[RecipientOutcome, ...]:
    """One outcome per reported recipient, or one with no address when it is redacted."""
    feedback = fields.get(block, "feedback-type").lower() or "abuse"
    outcome = _OUTCOMES.get(feedback, COMPLAINT)
    why = f"arf feedback-type {feedback}"
    if feedback not in _OUTCOMES:
        why += " (unregistered: read as abuse)"
    detail = "; ".join(
        f"{name}: {value}"
        for name in ("feedback-type", "user-agent", "reported-domain", "source-ip")
        for value in fields.get_all(block, name)
    )
    found = [
        *fields.get_all(block, "original-rcpt-to"),
        *fields.get_all(block, "removal-recipient"),
        # Microsoft's JMRP names the recipient in the original's own header.
        *fields.get_all(original, "x-hmxmroriginalrecipient"),
    ]
    addresses = list(dict.fromkeys(a for a in map(_clean, found) if _visible(a)))
    chosen: list[str | None] = [*addresses] if addresses else [None]
    return tuple(
        RecipientOutcome(address=a, outcome=outcome, why=why, diagnostic=fields.one_line(detail))
        for a in chosen
    )


def _clean(value: str) -> str:
    return fields.address(fields.typed_value(value)) if value.strip() else ""


def _visible(address: str) -> bool:
    # Providers redact as "redacted@...", "xxxxx@..." or "[redacted]"; such a value names
    # nobody and must not be suppressed.
    local = address.partition("@")[0]
    return "@" in address and "redacted" not in address and set(local) - {"x", "*", "."} != set()
