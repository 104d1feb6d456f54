"""The decision-log filters, read the same way wherever they are typed: `gatekeeper log`
options, the API's `/decisions` query and the dashboard's filter form."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.addresses import AddressError, canonical
from gateway.store.records import DecisionQuery
from gateway.timefmt import parse_time

FILTERS = (
    "since",
    "until",
    "action",
    "reason",
    "recipient",
    "purpose",
    "jurisdiction",
    "sender",
    "phase",
    "message_id",
)


def decision_query(values: Mapping[str, str | None], prefix: str = "--") -> DecisionQuery:
    """A query from filter values (absent or empty: no filter). TimeFormatError (a
    ValueError) names a bad time bound as `prefix` + its name, as the user typed it."""
    given = {name: values.get(name) or None for name in FILTERS}
    jurisdiction, message_id = given["jurisdiction"], given["message_id"]
    return DecisionQuery(
        since=parse_time(given["since"], f"{prefix}since"),
        until=parse_time(given["until"], f"{prefix}until"),
        action=given["action"],
        reason=given["reason"],
        recipient=recipient_key(given["recipient"]),
        purpose=given["purpose"],
        jurisdiction=jurisdiction.lower() if jurisdiction else None,
        sender=given["sender"],
        phase=given["phase"],
        message_id=message_id.strip("<>") if message_id else None,
    )


def recipient_key(text: str | None) -> str | None:
    """The key the decision rows hold, `canonical()` (case-folded, IDNA): a lower-cased
    filter would never match `ß` or an internationalised domain."""
    if not text:
        return None
    try:
        return canonical(text)
    except AddressError:
        return text.strip().casefold()  # not an address: it matches nothing, as typed
