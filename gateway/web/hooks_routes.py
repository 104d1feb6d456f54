"""The provider webhook routes (docs/design.md §8): `POST /hooks/ses`, `/hooks/sendgrid`,
`/hooks/postmark`, `/hooks/mailgun`. Each answers 404 until its `[hooks]` keys are set."""

from __future__ import annotations

from aiohttp import web

from gateway.web import hooks_mailgun, hooks_postmark, hooks_sendgrid, hooks_ses


def add_routes(app: web.Application) -> None:
    app[hooks_ses.CERTIFICATES] = hooks_ses.SnsCertificates()
    app.router.add_post("/hooks/ses", hooks_ses.hook)
    app.router.add_post("/hooks/sendgrid", hooks_sendgrid.hook)
    app.router.add_post("/hooks/postmark", hooks_postmark.hook)
    app.router.add_post("/hooks/mailgun", hooks_mailgun.hook)
