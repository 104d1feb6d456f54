"""The dashboard's tables of stored records: decisions, consents, suppressions, events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gateway.store.records import ConsentEvent, Decision, SuppressionEntry
from gateway.web.ops_html import action_cell, link, table


def decisions_table(rows: Sequence[tuple[int, Decision]]) -> str:
    if not rows:
        return "<p>No decisions match.</p>"
    return table(
        ["time", "action", "basis / reason", "recipient", "purpose", "jurisdiction", "phase", ""],
        [
            [
                d.time,
                action_cell(d.action),
                d.basis or d.reason,
                d.recipient,
                d.purpose,
                d.jurisdiction,
                d.phase,
                link(f"/ops/decisions/{seq}", "details"),
            ]
            for seq, d in rows
        ],
        raw_columns={1, 7},
    )


def consent_table(consents: Sequence[Mapping[str, str | None]]) -> str:
    if not consents:
        return "<p>None.</p>"
    columns = ["topic", "granted_at", "double_opt_in_at", "withdrawn_at", "source", "proof"]
    shown = [c for c in columns if any(row.get(c) for row in consents)]
    return table(
        shown,
        [[row.get(c) or "" for c in shown] for row in consents],
        proof_column=shown.index("proof") if "proof" in shown else None,
    )


def suppression_table(entries: Sequence[SuppressionEntry]) -> str:
    if not entries:
        return "<p>None.</p>"
    return table(
        ["scope", "reason", "source", "since"],
        [[s.scope, s.reason, s.source, s.created_at] for s in entries],
    )


def event_table(events: Sequence[ConsentEvent]) -> str:
    if not events:
        return "<p>None.</p>"
    return table(
        ["at", "event", "topic", "source", "proof"],
        [[e.at, e.kind, e.topic, e.source, e.proof] for e in events],
        proof_column=4,
    )
