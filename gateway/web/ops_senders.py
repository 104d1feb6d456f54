"""The dashboard's sender domains (docs/design.md §8): complaint rates over 24 h against the
brake's thresholds, which domains are paused, and a button that lifts a pause the way
`gatekeeper senders resume DOMAIN` does."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from html import escape
from urllib.parse import urlencode

from aiohttp import web

from gateway.config_reports import ComplaintsConfig
from gateway.pipeline.brake import Rate, window_rates
from gateway.store.records import SenderPause, iso_now
from gateway.web.api_request import ApiError
from gateway.web.context import CONTEXT
from gateway.web.forms import read_form
from gateway.web.ops_html import Session, ops_page, redirect, table

log = logging.getLogger(__name__)


async def senders_page(request: web.Request, session: Session) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    config = ctx.config.complaints
    pauses = {p.domain: p for p in await ctx.store.sender_pauses()}
    rates = await window_rates(ctx.store, pauses, datetime.now(UTC))
    paused = {d: p for d, p in pauses.items() if not p.resumed_at}
    for domain in paused.keys() - rates.keys():
        rates[domain] = Rate(domain, 0, 0, 0)
    resumed = request.query.get("resumed", "")
    body = (
        (f'<p role="status">{escape(resumed)} resumed: {RESUMED}</p>' if resumed else "")
        + f"<p>Non-transactional mail per sender domain over the last 24 hours (since a "
        f"resume: since then). Thresholds: warning above {percent(config.warn_rate)} "
        f"(<code>complaints.warn_rate</code>); pause above {percent(config.pause_rate)} "
        f"(<code>complaints.pause_rate</code>) with at least {config.min_volume} deliveries "
        "(<code>complaints.min_volume</code>). A paused domain's non-transactional mail is "
        "answered 451 4.7.1; its transactional mail flows.</p>"
    )
    if not rates:
        body += "<p>No non-transactional mail delivered or reported in the last 24 hours.</p>"
    else:
        body += table(
            [
                "sender domain",
                "delivered",
                "complaints",
                "complaint rate",
                "sender-side",
                "state",
                "",
            ],
            [row(rates[d], paused.get(d), config, session) for d in sorted(rates)],
            raw_columns={3, 5, 6},
        )
    return ops_page(200, "Senders", body, session)


RESUMED = (
    "its non-transactional mail is taken again (running gateways see it within seconds); only "
    "complaints from now on count toward another pause."
)


def row(
    rate: Rate, pause: SenderPause | None, config: ComplaintsConfig, session: Session
) -> list[str]:
    return [
        rate.domain,
        str(rate.delivered),
        str(rate.complaints),
        rate_cell(rate, config),
        str(rate.sender_side),
        pause_cell(pause),
        resume_form(rate.domain, session) if pause else "",
    ]


def percent(value: float) -> str:
    """As `gatekeeper senders list` prints it."""
    return f"{value:.3%}"


def rate_cell(rate: Rate, config: ComplaintsConfig) -> str:
    """The rate, marked (in words too, not by colour alone) when past a threshold."""
    shown = escape(percent(rate.rate))
    if rate.complaints and rate.rate > config.pause_rate:
        return f'<span class="deny">{shown} (above pause rate)</span>'
    if rate.complaints and rate.rate > config.warn_rate:
        return f'<span class="defer">{shown} (above warning rate)</span>'
    return shown


def pause_cell(pause: SenderPause | None) -> str:
    if pause is None:
        return "flowing"
    try:
        detail = json.loads(pause.detail)
        rate, threshold = percent(float(detail["rate"])), percent(float(detail["threshold"]))
        at = f" at {rate} (threshold {threshold})"
    except (ValueError, KeyError, TypeError):
        at = ""  # a pause made by hand or by an older version: no detail to show
    return f'<span class="deny">paused</span> since {escape(pause.paused_at)}{escape(at)}'


def resume_form(domain: str, session: Session) -> str:
    return (
        '<form method="post" action="/ops/senders/resume">'
        f'<input type="hidden" name="csrf" value="{escape(session.csrf)}">'
        f'<input type="hidden" name="domain" value="{escape(domain)}">'
        f'<button type="submit" aria-label="Resume {escape(domain)}">Resume</button></form>'
    )


async def resume(request: web.Request, session: Session) -> web.StreamResponse:
    """What `gatekeeper senders resume DOMAIN` does; signed_in has checked the CSRF value."""
    ctx = request.app[CONTEXT]
    form = await read_form(request)
    domain = str(form.get("domain", "")).strip().lower().lstrip("@")
    if not domain or not await ctx.store.resume_sender(domain, iso_now()):
        raise ApiError(409, f"{domain or 'That domain'} is not paused.")
    log.warning("sender domain %s resumed from the dashboard by %s", domain, session.user)
    return redirect("/ops/senders?" + urlencode({"resumed": domain}))
