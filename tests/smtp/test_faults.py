"""The gateway's own faults answer 4xx (retry later), never 5xx, and lose nothing."""

from __future__ import annotations

import asyncio
import smtplib

from gateway import app
from tests.support.messages import RECEIPT


async def test_store_down_answers_451_and_the_gateway_still_stops(
    upstream, gateway_factory, tmp_path
):
    gw = await gateway_factory(
        upstream.url,
        streams=[
            {"sender": "app@example.com", "purpose": "transactional"},
            {"sender": "news@shop.example", "purpose": "marketing"},
        ],
    )
    await gw.store.writer.close()  # the spool can no longer commit
    gw.store.lookup.close()  # nor can recipients be looked up

    def attempt() -> tuple[tuple[int, bytes], int]:
        with smtplib.SMTP("127.0.0.1", gw.smtp_port) as client:
            client.ehlo()
            client.mail("news@shop.example")
            at_rcpt = client.rcpt("someone@example.org")
            client.rset()
            try:
                client.sendmail("unbound@example.com", ["x@example.org"], RECEIPT)
            except smtplib.SMTPDataError as exc:
                return at_rcpt, exc.smtp_code
            except smtplib.SMTPRecipientsRefused as exc:
                return at_rcpt, exc.recipients["x@example.org"][0]
            return at_rcpt, 250

    at_rcpt, at_data = await asyncio.to_thread(attempt)
    assert at_rcpt == (451, b"4.3.0 Temporary gateway fault, please try again later")
    assert at_data == 451
    await asyncio.wait_for(app.stop(gw), 60)  # bounded even though the store is gone
    # stopped, delivery has finished whatever it held: had anything been taken, it is there
    assert upstream.handler.messages == []
