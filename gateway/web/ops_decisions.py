"""The dashboard's decision pages: the filtered, paged list with its chart and counts, and
one decision beside what was known about its recipient at that moment."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from urllib.parse import urlencode

from aiohttp import web

from gateway.consent.decision_filters import FILTERS
from gateway.consent.history import consents_as_of
from gateway.pipeline import report_outcomes, shadow
from gateway.pipeline.delivery.worker import ACTIONS as DELIVERY_OUTCOMES
from gateway.pipeline.events import REFUSED_PHASES
from gateway.policy.facts import DENY_REASONS, PURPOSES
from gateway.store.records import ContactView, Decision, DecisionQuery
from gateway.timefmt import parse_time
from gateway.web.api_request import ApiError, filters, whole_number
from gateway.web.context import CONTEXT, WebContext
from gateway.web.ops_chart import chart, chart_sample
from gateway.web.ops_html import Session, dl, link, ops_page, table
from gateway.web.ops_tables import consent_table, decisions_table, event_table, suppression_table

PAGE_SIZE = 50
DEFAULT_RANGE = "24h"
"""Counts and chart cover this when no start time is given: cheap on any table size."""
REPORT_REASONS = (
    *report_outcomes.REASONS.values(),
    report_outcomes.UNMATCHED,
    report_outcomes.UNRECOGNISED,
)
REASONS = tuple(dict.fromkeys((*DENY_REASONS, *DELIVERY_OUTCOMES, *REPORT_REASONS)))
"""The policy's deny reasons in their order of precedence, then the delivery outcomes, then
what reports that come back say (pipeline/report_outcomes.py); each once."""
PHASES = (*REFUSED_PHASES, "delivery", "unsubscribe", report_outcomes.PHASE, shadow.PHASE)
"""Where a decision row comes from: SMTP RCPT and DATA, the delivery attempt, an
unsubscribe, a report that came back, and a candidate policy's differing verdict
(`policy.shadow_directory`, docs/design.md §11)."""

Rows = list[tuple[int, Decision]]


async def decisions_page(request: web.Request, session: Session) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    params = {k: v for k, v in request.query.items() if k in FILTERS and v}
    search = filters(params)
    rows, older, newer = await decision_page_rows(ctx, search, request.query)
    since = search.since or str(parse_time(DEFAULT_RANGE))
    counts = await ctx.store.decision_counts(since)
    chart_rows, capped = await chart_sample(ctx, search, since)
    body = "".join(
        [
            filter_form(params),
            '<div class="cols"><section><h2>Allowed and refused over time</h2>',
            chart(chart_rows, since, search.until, capped),
            f"</section><section><h2>Counts by reason since {escape(since)}</h2>",
            table(
                ["reason", "decisions"],
                [[r or "(none: allowed)", str(n)] for r, n in counts.get("reason", [])],
            ),
            "</section></div><h2>Decisions</h2>",
            decisions_table(rows),
            paging(params, older, newer),
        ]
    )
    return ops_page(200, "Decisions", body, session)


async def decision_page_rows(
    ctx: WebContext, search: DecisionQuery, query: Mapping[str, str]
) -> tuple[Rows, int | None, int | None]:
    """Newest first; `before`/`after` are seq cursors, so every page is an index range scan.
    Returns the rows and the cursors for the older and the newer page (None: no such page)."""
    search.limit = PAGE_SIZE + 1
    after, before = cursor(query, "after"), cursor(query, "before")
    if after is not None:
        search.after, search.newest_first = after, False
        rows = await ctx.store.decisions(search)
        more = len(rows) > PAGE_SIZE
        rows = list(reversed(rows[:PAGE_SIZE]))
        return rows, rows[-1][0] if rows else None, rows[0][0] if more and rows else None
    search.before, search.newest_first = before, True
    rows = await ctx.store.decisions(search)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    newer = rows[0][0] if before is not None and rows else None
    return rows, rows[-1][0] if more else None, newer


def cursor(query: Mapping[str, str], name: str) -> int | None:
    value = query.get(name, "")
    return whole_number(value, name) if value else None


def filter_form(params: Mapping[str, str]) -> str:
    def text(name: str, label: str, hint: str = "") -> str:
        return (
            f'<label>{label}<input name="{name}" value="{escape(params.get(name, ""))}"'
            f' placeholder="{escape(hint)}"></label>'
        )

    def choice(name: str, label: str, options: Iterable[str]) -> str:
        current = params.get(name, "")
        items = "".join(
            f"<option{' selected' if o == current else ''}>{escape(o)}</option>" for o in options
        )
        return (
            f'<label>{label}<select name="{name}"><option value="">any</option>{items}'
            "</select></label>"
        )

    return (
        '<form method="get" action="/ops/" aria-label="Filter decisions"><div class="filters">'
        + text("since", "From", "2h, 7d or ISO time")
        + text("until", "Until", "ISO time")
        + choice("action", "Action", ("allow", "deny", "defer"))
        + choice("reason", "Reason", REASONS)
        + choice("purpose", "Purpose", PURPOSES)
        + choice("phase", "Phase", PHASES)
        + text("jurisdiction", "Jurisdiction", "eu, pl, us…")
        + text("sender", "Sender")
        + text("recipient", "Recipient")
        + text("message_id", "Message-ID or queue id")
        + '</div><p><button type="submit">Filter</button> <a href="/ops/">Clear</a></p></form>'
    )


def paging(params: Mapping[str, str], older: int | None, newer: int | None) -> str:
    links = []
    if newer is not None:
        links.append(link("/ops/?" + urlencode({**params, "after": newer}), "← Newer"))
    if older is not None:
        links.append(link("/ops/?" + urlencode({**params, "before": older}), "Older →"))
    return f'<nav class="paging" aria-label="Pages">{"".join(links)}</nav>' if links else ""


async def decision_page(request: web.Request, session: Session) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    seq = whole_number(request.match_info["seq"], "decision number", low=1)
    rows = await ctx.store.decisions(DecisionQuery(after=seq - 1, limit=1))
    if not rows or rows[0][0] != seq:
        raise ApiError(404, f"There is no decision number {seq}.")
    decision = rows[0][1]
    view = await ctx.store.contact(decision.recipient)
    fields = [(name, value) for name, value in decision.public().items()]
    fields += [("queue id", decision.queue_id), ("detail", decision.detail)]
    body = (
        dl(fields)
        + f"<h2>What was known about the recipient at {escape(decision.time)}</h2>"
        + (
            as_of(view, decision.time)
            if view
            else "<p>No contact record or suppression "
            "is held for this address now (never known, or erased).</p>"
        )
    )
    return ops_page(200, f"Decision {decision.id}", body, session)


def as_of(view: ContactView, moment: str) -> str:
    """The consent record replayed from the append-only history up to `moment`: the state
    the policy saw, not today's."""
    events = [e for e in view.events if e.at <= moment]
    suppressions = [s for s in view.suppressions if s.created_at <= moment]
    return (
        "<h3>Consents</h3>"
        + consent_table(consents_as_of(events))
        + "<h3>Suppressions</h3>"
        + suppression_table(suppressions)
        + "<h3>Consent events up to then</h3>"
        + event_table(events)
        + "<p>"
        + link("/ops/contacts?" + urlencode({"email": view.address}), "The contact as it is now")
        + "</p>"
    )
