"""The dashboard's chart: allowed and refused verdicts over time, as inline SVG bars."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from html import escape

from gateway.consent.decision_filters import FILTERS
from gateway.store.records import Decision, DecisionQuery
from gateway.timefmt import parse_iso
from gateway.web.context import WebContext

CHART_BUCKETS = 24
CHART_ROWS = 20_000
"""At most this many decisions are read for the chart: it must stay cheap on huge tables."""
CHART_CHUNK = 5000
VERDICT_PHASES = ("rcpt", "data")


async def chart_sample(
    ctx: WebContext, search: DecisionQuery, since: str
) -> tuple[list[Decision], bool]:
    """The decisions in the chart's range, newest first, read in keyset chunks up to a cap."""
    query = DecisionQuery(**{f: getattr(search, f) for f in FILTERS})
    query.since, query.newest_first, query.limit = since, True, CHART_CHUNK
    sample: list[Decision] = []
    while len(sample) < CHART_ROWS:
        rows = await ctx.store.decisions(query)
        # Delivery outcomes and unsubscribes are not verdicts: counted, a delivered message
        # would show as allowed twice. A phase filter shows exactly what it names.
        sample += [d for _, d in rows if search.phase or d.phase in VERDICT_PHASES]
        if len(rows) < CHART_CHUNK:
            return sample, False
        query.before = rows[-1][0]
    return sample, True


def chart(rows: Sequence[Decision], since: str, until: str | None, capped: bool) -> str:
    start = parse_iso(since)
    end = parse_iso(until) if until else datetime.now(UTC)
    span = max((end - start).total_seconds(), 1.0)
    allowed, refused = [0] * CHART_BUCKETS, [0] * CHART_BUCKETS
    for d in rows:
        offset = (parse_iso(d.time) - start).total_seconds()
        index = min(max(int(offset / span * CHART_BUCKETS), 0), CHART_BUCKETS - 1)
        if d.action == "allow":
            allowed[index] += 1
        elif d.action == "deny":
            refused[index] += 1
    note = f'<p class="hint">From the newest {CHART_ROWS:,} decisions only.</p>' if capped else ""
    return bars(allowed, refused, start, span) + note


def bars(allowed: list[int], refused: list[int], start: datetime, span: float) -> str:
    width, height, slot = 480, 160, 480 / CHART_BUCKETS
    top = max([*allowed, *refused, 1])
    parts = []
    for i, (ok, no) in enumerate(zip(allowed, refused, strict=True)):
        when = start + timedelta(seconds=span * i / CHART_BUCKETS)
        label = f"{when:%Y-%m-%d %H:%M}: {ok} allowed, {no} refused"
        for j, (count, colour) in enumerate(((ok, "#047857"), (no, "#b91c1c"))):
            h = count / top * (height - 10)
            parts.append(
                f'<rect x="{i * slot + 1 + j * slot / 2:.1f}" y="{height - h:.1f}" '
                f'width="{slot / 2 - 1:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{escape(label)}</title></rect>"
            )
    total_ok, total_no = sum(allowed), sum(refused)
    summary = f"{total_ok} allowed and {total_no} refused since {start:%Y-%m-%d %H:%M} UTC"
    return (
        f'<svg role="img" aria-label="{escape(summary)}" viewBox="0 0 {width} {height + 2}" '
        f'width="100%" style="max-width:{width}px;background:#fafafa">'
        f"<title>{escape(summary)}</title>{''.join(parts)}</svg>"
        f'<p class="hint"><span class="allow">■ allowed {total_ok}</span> '
        f'<span class="deny">■ refused {total_no}</span> (max {top} per bar)</p>'
    )
