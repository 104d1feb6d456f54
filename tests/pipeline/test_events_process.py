"""An event for the application outlives a crash (docs/design.md §9): written with the
decision that caused it, it is sent by the next gateway process once the endpoint is up."""

from __future__ import annotations

import asyncio
import base64
import smtplib
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from gateway.store import open_store
from tests.support.config import gateway_sections, write_config
from tests.support.messages import MARKETING, send
from tests.support.receiver import Receiver
from tests.support.servers import Upstream, free_port
from tests.support.waiting import wait_until

SECRET = "whsec_" + base64.b64encode(b"application-shared-secret-32byte").decode()


async def test_event_is_delivered_after_a_crash_and_restart(
    tmp_path: Path, upstream: Upstream, process_factory: Any
) -> None:
    receiver = Receiver(port=free_port())
    events = {
        "webhooks": [{"url": receiver.url, "secret": SECRET, "events": ["refused"]}],
        "retry_initial": 0.2,
        "retry_max": 0.5,
    }
    sections = gateway_sections(tmp_path, upstream.url, events=events)
    config = write_config(tmp_path, sections)
    first = process_factory(config).start()
    with pytest.raises(smtplib.SMTPDataError):
        await asyncio.to_thread(
            send, first.smtp_port, ["stranger@example.org"], MARKETING, "news@shop.example"
        )
    store = open_store(sections["store"]["url"])
    await store.open()
    try:

        async def tried() -> bool:
            return any(e.attempts >= 1 for e in await store.events_list("pending"))

        await wait_until(tried, timeout=20)
        (pending,) = await store.events_list("pending")
    finally:
        await store.close()
    first.kill()  # a crash: nothing is flushed or handed over
    await receiver.start()
    try:
        process_factory(config).start()
        await wait_until(lambda: receiver.requests, timeout=30)
        request = receiver.requests[0]
        assert request.headers["webhook-id"] == pending.id
        assert Webhook(SECRET).verify(request.body, request.headers)["type"] == "refused"
    finally:
        await receiver.stop()
