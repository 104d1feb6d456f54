"""Shadow policies (docs/policies.md, "Trying a policy in the shadow"): a candidate policy
set decided beside the live one, and the differences summarised.

A difference is recorded as a decision row of phase `shadow` holding the candidate's verdict;
its detail names the live verdict and the live row. Nothing else changes: the SMTP replies
and the delivery follow the live verdict alone. `policy diff` reads these rows; `policy
replay` (pipeline/replay.py) makes the same differences offline from recorded traffic.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from gateway.policy import Verdict
from gateway.store import Store
from gateway.store.records import Decision, DecisionQuery

PHASE = "shadow"
LIVE = "live "
"""How a shadow row's detail starts: `live <action> <basis or reason> rule <rule>`."""
GROUPS = ("jurisdiction", "purpose", "rule", "reason", "change")
"""What a summary counts the differences by ("reason": the candidate's action and basis or
reason; "change": live verdict -> candidate verdict)."""
EXAMPLES = 10
DECIDED_PHASES = ("rcpt", "data")
"""The phases the policy engine decides; delivery outcomes and shadow rows are not."""
PAGE = 1000
"""Example decisions a summary keeps."""


def differs(verdict: Verdict, live: Decision) -> bool:
    """The candidate's verdict differs in action, basis, reason or rule from the live row."""
    return (
        verdict.action != live.action
        or (verdict.basis or "") != live.basis
        or (verdict.reason or "") != live.reason
        or verdict.rule != live.rule
    )


def live_label(action: str, basis: str, reason: str, rule: str) -> str:
    return f"{action} {basis or reason or '-'} rule {rule}"


def shadow_record(live: Decision, verdict: Verdict) -> Decision | None:
    """The `shadow` row for `live` when the candidate's verdict differs, else None."""
    if not differs(verdict, live):
        return None
    return Decision(
        time=live.time,
        phase=PHASE,
        action=verdict.action,
        recipient=live.recipient,
        instance=live.instance,
        session_id=live.session_id,
        message_id=live.message_id,
        client=live.client,
        auth_user=live.auth_user,
        sender=live.sender,
        purpose=live.purpose,
        topic=live.topic,
        jurisdiction=verdict.jurisdiction,
        basis=verdict.basis or "",
        reason=verdict.reason or "",
        rule=verdict.rule,
        cite=verdict.cite,
        queue_id=live.queue_id,
        detail="; ".join(
            [
                LIVE + live_label(live.action, live.basis, live.reason, live.rule),
                f"live decision {live.id} ({live.phase})",
                *verdict.detail,
            ]
        ),
    )


@dataclass(frozen=True, slots=True)
class Difference:
    """One decision the candidate set decides otherwise."""

    seq: int
    """The row to link to (/ops/decisions/N): the shadow row, or in a replay the live row."""
    time: str
    recipient: str
    jurisdiction: str
    purpose: str
    rule: str
    outcome: str
    """The candidate's `action basis-or-reason`."""
    live: str
    """The live verdict as `live_label` writes it."""

    @property
    def change(self) -> str:
        return f"{self.live} -> {self.outcome} rule {self.rule}"

    @classmethod
    def of_row(cls, seq: int, row: Decision) -> Difference:
        live = row.detail.split("; ", 1)[0].removeprefix(LIVE)
        return cls(
            seq,
            row.time,
            row.recipient,
            row.jurisdiction,
            row.purpose,
            row.rule,
            f"{row.action} {row.basis or row.reason or '-'}",
            live,
        )


@dataclass
class Summary:
    """Differences counted by jurisdiction, purpose, rule, reason and change, with examples."""

    decisions: int = 0
    """Live decisions compared."""
    differences: int = 0
    by: dict[str, Counter[str]] = field(default_factory=lambda: _counters(GROUPS))
    examples: list[Difference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, difference: Difference) -> None:
        self.differences += 1
        self.by["jurisdiction"][difference.jurisdiction or "-"] += 1
        self.by["purpose"][difference.purpose or "-"] += 1
        self.by["rule"][difference.rule or "-"] += 1
        self.by["reason"][difference.outcome] += 1
        self.by["change"][difference.change] += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append(difference)


def _counters(names: tuple[str, ...]) -> dict[str, Counter[str]]:
    return {name: Counter[str]() for name in names}


def summarise_rows(rows: list[tuple[int, Decision]], compared: int) -> Summary:
    """The summary of recorded `shadow` rows; `compared` is how many live rows they are of."""
    summary = Summary(decisions=compared)
    for seq, row in rows:
        if row.phase == PHASE:
            summary.add(Difference.of_row(seq, row))
    return summary


async def recorded_summary(store: Store, since: str | None) -> Summary:
    """`policy diff` and /ops/shadow: the `shadow` rows since a time, beside how many live
    decisions were made in that time."""
    counts = dict((await store.decision_counts(since)).get("phase", []))
    rows: list[tuple[int, Decision]] = []
    after = None
    while page := await store.decisions(
        DecisionQuery(since=since, phase=PHASE, after=after, limit=PAGE)
    ):
        rows += page
        after = page[-1][0]
    return summarise_rows(rows, sum(counts.get(phase, 0) for phase in DECIDED_PHASES))


def summary_lines(summary: Summary, title: str) -> list[str]:
    """The text `policy diff` and `policy replay` print."""
    lines = [f"{title}: {summary.differences} of {summary.decisions} decisions differ"]
    lines += [f"  note: {note}" for note in summary.notes]
    for name, counts in summary.by.items():
        if counts:
            lines.append(f"by {name}:")
            lines += [f"  {n:6d}  {key}" for key, n in counts.most_common()]
    if summary.examples:
        lines.append("examples:")
        lines += [
            f"  #{d.seq} {d.time} {d.recipient} [{d.jurisdiction} {d.purpose}] {d.change}"
            for d in summary.examples
        ]
    return lines
