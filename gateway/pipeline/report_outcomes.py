"""Apply what a report says (docs/design.md §8): suppress, count, record.

`ReportIntake.apply(report, source=…)` is the one entry point: the report mailbox of the
listener, `gatekeeper reports ingest` and the provider webhooks all hand it a
`gateway.reports.Report` (parsed from a message, or built from a provider's event) and get
back one `Applied` per recipient line. Every line becomes a decision row with phase
`report`, its evidence in the row's detail (JSON).

- `hard`: suppression `hard-bounce`, scope all (reason `hard-bounce`);
- `soft`: counted (`soft-bounce`); the `bounces.soft_limit`-th within `bounces.soft_days`
  suppresses `hard-bounce`;
- `sender`: nothing for the recipient; counted per sender domain (`sender-side`);
- `complaint`: suppression `complaint`, whose rule blocks every non-transactional purpose;
- `unsubscribe`: unsubscribed from the original's topic or purpose, from every
  non-transactional purpose when the original is unknown (`unsubscribed`);
- `auto-reply`, `delivered`: recorded only.

A report that hides the recipient is matched by the original's `X-Gatekeeper-Ref` or the VERP
token (gateway.reports.verp): both name a queue id and a keyed digest of one of its
recipients, found among that queue id's decision rows.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from gateway.config_reports import BouncesConfig
from gateway.pipeline import optout
from gateway.pipeline.audit import Audit
from gateway.pipeline.brake import Brake
from gateway.pipeline.writer import Writer
from gateway.policy.vocab import PURPOSES
from gateway.reports import RecipientOutcome, Report
from gateway.reports.model import (
    AUTO_REPLIED,
    COMPLAINT,
    DELIVERED,
    HARD,
    SENDER,
    SOFT,
    UNSUBSCRIBE,
)
from gateway.reports.verp import Claims, VerpError, read_reference, read_verp
from gateway.store import Store
from gateway.store.records import Decision, DecisionQuery, SuppressionEntry, iso_now

# flufl.bounce logs one INFO line per detector it runs: sixteen lines for every report.
logging.getLogger("flufl.bounce").setLevel(logging.WARNING)

PHASE = "report"
SOURCE = "report"
REASONS = {
    HARD: "hard-bounce",
    SOFT: "soft-bounce",
    SENDER: "sender-side",
    COMPLAINT: "complaint",
    UNSUBSCRIBE: "unsubscribed",
    AUTO_REPLIED: "auto-reply",
    DELIVERED: "delivered",
}
UNMATCHED = "unmatched"
"""The reason of a line naming no recipient the gateway can find."""
UNRECOGNISED = "unrecognised"
"""The reason of a message that is no report the parser knows (kind `unknown`)."""
CITES = {
    "dsn": "RFC 3464",
    "arf": "RFC 5965",
    "auto-reply": "RFC 3834",
    "bounce": "RFC 3463",
}
NON_TRANSACTIONAL = tuple(p for p in PURPOSES if p != "transactional")
_ORIGINAL_ROWS = 1000  # one message's decision rows: its recipients at RCPT, DATA, delivery


async def report_keys(store: Store) -> list[bytes]:
    """The keys of VERP tokens and X-Gatekeeper-Ref, the signing one first: generated once
    and kept in the store, so every instance and `reports ingest` share it."""
    return [(await store.meta("report_key", secrets.token_hex(32))).encode()]


@dataclass(frozen=True, slots=True)
class Original:
    """What the gateway knows of the message a report is about, from its decision rows."""

    queue_id: str = ""
    message_id: str = ""
    sender: str = ""
    purpose: str = ""
    topic: str = ""
    recipients: tuple[str, ...] = ()
    matched_by: str = ""


@dataclass(slots=True)
class Applied:
    """One recipient line of a report and what was done about it."""

    address: str
    outcome: str
    reason: str
    done: str
    """In words: "suppressed hard-bounce", "soft bounce 2 of 5 in 7 days", "recorded"."""
    decision: Decision = field(repr=False)


class ReportIntake:
    def __init__(
        self,
        store: Store,
        writer: Writer,
        audit: Audit,
        config: BouncesConfig,
        keys: Sequence[bytes],
        brake: Brake | None = None,
    ) -> None:
        self._store = store
        self._writer = writer
        self._audit = audit
        self._config = config
        self._keys = list(keys)
        self.brake = brake

    async def apply(
        self, report: Report, *, source: str, envelope_to: str = "", client: str = ""
    ) -> list[Applied]:
        """Act on every recipient line of `report`; `source` names where it came from
        (`mailbox`, `ingest`, `ses`, …), `envelope_to` the address it was sent to (a VERP
        address names the original), `client` the peer that handed it in."""
        claims, original = await self._original(report, envelope_to)
        lines = report.recipients or _implied(report, claims)
        applied = []
        for line in lines:
            address = line.address or self._match(claims, original)
            applied.append(await self._apply_line(report, line, address, original, source, client))
        if self.brake is not None and any(a.outcome == COMPLAINT for a in applied):
            self.brake.complained()
        return applied

    async def _apply_line(
        self,
        report: Report,
        line: RecipientOutcome,
        address: str | None,
        original: Original,
        source: str,
        client: str,
    ) -> Applied:
        outcome = line.outcome
        reason = REASONS.get(outcome, UNRECOGNISED) if address else UNMATCHED
        done, suppressed = "recorded", False
        if address and outcome == HARD:
            suppressed = self._suppress(address, "hard-bounce")
            done = "suppressed hard-bounce (all purposes)"
        elif address and outcome == COMPLAINT:
            suppressed = self._suppress(address, "complaint")
            done = "suppressed complaint (every non-transactional purpose)"
        elif address and outcome == SOFT:
            done, suppressed = await self._soft(address)
        elif address and outcome == UNSUBSCRIBE:
            scopes = [original.topic or original.purpose] if original.purpose else []
            scopes = scopes or list(NON_TRANSACTIONAL)
            await optout.leave(self._store, self._audit, address, scopes, SOURCE, source)
            done, suppressed = f"unsubscribed ({', '.join(scopes)})", True
        elif address and outcome == SENDER:
            done = "sender-side: the recipient is not suppressed"
        decision = self._decision(report, line, address or "", original, reason, source, client)
        decision.action = "deny" if suppressed else "note"
        self._audit.record([decision])
        return Applied(address or "", outcome, reason, done, decision)

    def _suppress(self, address: str, reason: str) -> bool:
        self._writer.suppress([SuppressionEntry(address, "all", reason, SOURCE, iso_now())])
        return True

    async def _soft(self, address: str) -> tuple[str, bool]:
        """This soft bounce and those recorded within `bounces.soft_days`: at the limit, a
        hard-bounce suppression. Rows handed in before are committed first, so a burst of
        reports counts every one of them."""
        await self._writer.written()
        days, limit = self._config.soft_days, self._config.soft_limit
        since = datetime.now(UTC) - timedelta(days=days)
        query = DecisionQuery(
            recipient=address,
            phase=PHASE,
            reason=REASONS[SOFT],
            since=since.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            limit=limit,
        )
        count = len(await self._store.decisions(query)) + 1
        if count < limit:
            return f"soft bounce {count} of {limit} in {days} days", False
        self._suppress(address, "hard-bounce")
        return f"soft bounce {count} of {limit} in {days} days: suppressed hard-bounce", True

    async def _original(self, report: Report, envelope_to: str) -> tuple[Claims | None, Original]:
        """The claims of the reference header or VERP address, and the original they name
        (or the one with the reported Message-ID)."""
        claims, matched_by = None, ""
        for value, read, name in (
            (report.ref, read_reference, "X-Gatekeeper-Ref"),
            (envelope_to, read_verp, "VERP"),
            (report.return_path, read_verp, "VERP (Return-Path)"),
        ):
            if value and self._keys:
                try:
                    claims, matched_by = read(self._keys, value)[0], name
                    break
                except VerpError:
                    continue
        if claims is not None:
            return claims, await self._rows(claims.queue_id, matched_by)
        if report.original_message_id:
            return None, await self._rows(report.original_message_id, "Message-ID")
        return None, Original()

    async def _rows(self, queue_or_message_id: str, matched_by: str) -> Original:
        rows = await self._store.decisions(
            DecisionQuery(message_id=queue_or_message_id, limit=_ORIGINAL_ROWS)
        )
        if not rows:
            return Original(matched_by=f"{matched_by}: no such message")
        first = rows[-1][1]  # the delivery rows, the last, carry the final purpose
        return Original(
            queue_id=first.queue_id,
            message_id=first.message_id,
            sender=first.sender,
            purpose=first.purpose,
            topic=first.topic,
            recipients=tuple(dict.fromkeys(d.recipient for _, d in rows if d.recipient)),
            matched_by=matched_by,
        )

    def _match(self, claims: Claims | None, original: Original) -> str | None:
        """The recipient the token's digest names, among the original's recipients; without
        a token, the only recipient of the message the report names by Message-ID."""
        if claims is None:
            single = len(original.recipients) == 1 and original.matched_by == "Message-ID"
            return original.recipients[0] if single else None
        for key in self._keys:
            for recipient in original.recipients:
                if claims.names(key, recipient):
                    return recipient
        return None

    def _decision(
        self,
        report: Report,
        line: RecipientOutcome,
        address: str,
        original: Original,
        reason: str,
        source: str,
        client: str,
    ) -> Decision:
        evidence = {
            "source": source,
            "kind": report.kind,
            "outcome": line.outcome,
            "why": line.why,
            "status": line.status,
            "action": line.action,
            "diagnostic": line.diagnostic,
            "remote_mta": line.remote_mta,
            "reporting_mta": report.reporting_mta,
            "original_message_id": report.original_message_id,
            "feedback_type": report.feedback_type,
            "matched_by": original.matched_by if not line.address else "report",
        }
        return Decision(
            time=iso_now(),
            phase=PHASE,
            action="note",
            recipient=address,
            message_id=original.message_id or report.original_message_id,
            queue_id=original.queue_id,
            client=client,
            sender=original.sender,
            purpose=original.purpose,
            topic=original.topic,
            reason=reason,
            rule=f"report.{line.outcome}",
            cite=CITES.get(report.kind, ""),
            detail=json.dumps({k: v for k, v in evidence.items() if v}, ensure_ascii=False),
        )


async def report_lines(store: Store, address: str, limit: int = 10) -> list[str]:
    """The latest reports about an address, newest first, one line each (`contacts show`)."""
    query = DecisionQuery(recipient=address, phase=PHASE, newest_first=True, limit=limit)
    lines = []
    for _, d in await store.decisions(query):
        evidence = json.loads(d.detail or "{}")
        lines.append(
            f"{d.time} {d.reason} {evidence.get('status', '')} {d.action} via "
            f"{evidence.get('source', '')} {evidence.get('diagnostic', '')[:120]}".rstrip()
        )
    return lines


def _implied(report: Report, claims: Claims | None) -> tuple[RecipientOutcome, ...]:
    """A report naming no recipient: a bounce that a VERP token ties to one is a failure of
    undetermined cause (soft: a suppression must rest on evidence); anything else is one
    unmatched line, recorded."""
    if claims is not None and report.kind in ("dsn", "bounce"):
        return (RecipientOutcome(None, SOFT, f"{report.why}; recipient from the VERP token"),)
    return (RecipientOutcome(None, report.kind, report.why),)
