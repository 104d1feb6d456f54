"""Ops dashboard at /ops/shadow: what the candidate policy set (`policy.shadow_directory`)
decided otherwise, counted as `gatekeeper policy diff` counts it, with example decisions."""

from __future__ import annotations

from html import escape

from aiohttp import web

from gateway.pipeline.shadow import recorded_summary
from gateway.timefmt import parse_time
from gateway.web.context import CONTEXT
from gateway.web.ops_html import Session, error_box, link, ops_page, table

DEFAULT_SINCE = "7d"


async def shadow_page(request: web.Request, session: Session) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    typed = request.query.get("since") or DEFAULT_SINCE
    parts = [
        '<form method="get"><label>Since <input name="since" value="',
        escape(typed),
        '"></label> <button>Show</button></form>',
    ]
    try:
        since = parse_time(typed, "since")
    except ValueError as exc:
        parts.append(error_box(str(exc)))
        since = parse_time(DEFAULT_SINCE)
    summary = await recorded_summary(ctx.store, since)
    if not ctx.config.policy.shadow_directory:
        parts.append(error_box("policy.shadow_directory is not set: no new rows are recorded."))
    parts.append(
        f"<p>{summary.differences} of {summary.decisions} decisions since {escape(str(since))} "
        "decided otherwise by the candidate set.</p>"
    )
    for name, counts in summary.by.items():
        if counts:
            parts.append(f"<h2>By {escape(name)}</h2>")
            parts.append(table([name, "decisions"], [[k, str(n)] for k, n in counts.most_common()]))
    if summary.examples:
        parts.append("<h2>Example decisions</h2>")
        parts.append(
            table(
                ["decision", "time", "recipient", "jurisdiction", "purpose", "live -> candidate"],
                [
                    [
                        link(f"/ops/decisions/{d.seq}", f"#{d.seq}"),
                        d.time,
                        d.recipient,
                        d.jurisdiction,
                        d.purpose,
                        d.change,
                    ]
                    for d in summary.examples
                ],
                raw_columns={0},
            )
        )
    return ops_page(200, "Shadow policy", "".join(parts), session)
