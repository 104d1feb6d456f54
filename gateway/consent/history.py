"""A contact's consents as they stood at a moment, replayed from its append-only history.

The rules are the store's own (its `CONSENT_STATE` statements, applied as each
event is recorded): a grant or resubscribe sets `granted_at`, `source` and `proof` and lifts
a withdrawal; a confirm sets `double_opt_in_at`; a withdraw or unsubscribe sets
`withdrawn_at`; an objection is a suppression, not a consent change; a confirm or withdraw
of a topic never granted changes nothing. tests/web/test_web_consent_replay.py holds this to the
store: replaying a contact's whole history gives the consents `store.contact()` returns.
"""

from __future__ import annotations

from collections.abc import Iterable

from gateway.store.records import ConsentEvent

CONSENT_COLUMNS = ("topic", "granted_at", "double_opt_in_at", "withdrawn_at", "source", "proof")
"""The keys of `ContactView.consents`, which this returns too."""
GRANTS = ("grant", "resubscribe")
WITHDRAWALS = ("withdraw", "unsubscribe")


def consents_as_of(
    events: Iterable[ConsentEvent], moment: str | None = None
) -> list[dict[str, str | None]]:
    """The consents after the events up to `moment` (all when None), by topic. Events apply
    in time order; ones of the same time keep the order given (the store's: as recorded)."""
    state: dict[str, dict[str, str | None]] = {}
    for event in sorted(events, key=lambda e: e.at):
        if moment is not None and event.at > moment:
            continue
        consent = state.get(event.topic)
        if event.kind in GRANTS:
            consent = state.setdefault(event.topic, dict.fromkeys(CONSENT_COLUMNS))
            consent.update(
                topic=event.topic,
                granted_at=event.at,
                withdrawn_at=None,
                source=event.source,
                proof=event.proof,
            )
        elif consent is None:
            continue
        elif event.kind == "confirm":
            consent["double_opt_in_at"] = event.at
        elif event.kind in WITHDRAWALS:
            consent["withdrawn_at"] = event.at
    return [state[topic] for topic in sorted(state)]
