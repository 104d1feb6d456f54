"""Reports that come back, over any engine: the complaint-rate brake's counts and pauses
(docs/design.md §8; pipeline/brake.py). The report rows themselves are decision rows."""

from __future__ import annotations

from gateway.store.dialect import Engine
from gateway.store.records import SenderPause

SENDER_COUNTS = (
    # deliveries and complaints of non-transactional mail by envelope sender since a time;
    # the caller sums them per sender domain (one row per sender, a handful in practice)
    "SELECT sender, reason, count(*) FROM decision WHERE time >= ?"
    " AND purpose <> 'transactional' AND ((phase = 'delivery' AND reason = 'delivered')"
    " OR (phase = 'report' AND reason IN ('complaint', 'sender-side'))) GROUP BY sender, reason"
)
SENDER_PAUSES = "SELECT domain, paused_at, resumed_at, detail FROM sender_pause ORDER BY domain"
PAUSE_SENDER = (
    "INSERT INTO sender_pause (domain, paused_at, resumed_at, detail) VALUES (?,?,'',?)"
    " ON CONFLICT (domain) DO UPDATE SET paused_at = excluded.paused_at, resumed_at = '',"
    " detail = excluded.detail WHERE sender_pause.resumed_at <> ''"
)
RESUME_SENDER = "UPDATE sender_pause SET resumed_at = ? WHERE domain = ? AND resumed_at = ''"


class ReportSide(Engine):
    async def sender_counts(self, since: str) -> list[tuple[str, str, int]]:
        async with self.reading() as db:
            rows = await db.fetch(SENDER_COUNTS, (since,))
        return [(str(sender), str(reason), int(count)) for sender, reason, count in rows]

    async def sender_pauses(self) -> list[SenderPause]:
        async with self.reading() as db:
            return [SenderPause(*row) for row in await db.fetch(SENDER_PAUSES)]

    async def pause_sender(self, domain: str, at: str, detail: str) -> bool:
        async with self.transaction() as db:
            return bool(await db.execute(PAUSE_SENDER, (domain, at, detail)))

    async def resume_sender(self, domain: str, at: str) -> bool:
        async with self.transaction() as db:
            return bool(await db.execute(RESUME_SENDER, (at, domain)))
