"""`POST /hooks/sendgrid`: SendGrid's documented Event Webhook batch, signed with an ECDSA
key the test makes, suppresses the bounced and the complaining recipient and ignores the
rest; unsigned, wrongly signed, altered, stale and replayed batches change nothing
(docs/design.md §8)."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.support.hooks import SendgridSigner, payload, post, reasons, report_rows
from tests.support.servers import Upstream

BOUNCED, COMPLAINED = "example@test.com", "spammy@test.com"


async def start(gateway_factory: Any, upstream: Upstream, signer: SendgridSigner) -> Any:
    return await gateway_factory(upstream.url, hooks={"sendgrid_public_key": signer.public_key})


async def test_documented_events_suppress(gateway_factory: Any, upstream: Upstream) -> None:
    signer = SendgridSigner()
    gw = await start(gateway_factory, upstream, signer)
    body = json.dumps(payload("sendgrid_events.json")).encode()
    headers = signer.headers(body)
    status, text = await post(gw.http_port, "sendgrid", body, headers)
    assert status == 200, text
    assert [a["outcome"] for a in json.loads(text)["applied"]] == ["hard", "complaint"]
    assert ("all", "hard-bounce") in await reasons(gw, BOUNCED)
    assert ("all", "complaint") in await reasons(gw, COMPLAINED)
    rows = await report_rows(gw, BOUNCED)
    assert (await post(gw.http_port, "sendgrid", body, headers))[0] == 403  # replayed
    assert await report_rows(gw, BOUNCED) == rows


async def test_unsigned_forged_altered_and_stale_batches_change_nothing(
    gateway_factory: Any, upstream: Upstream
) -> None:
    signer = SendgridSigner()
    gw = await start(gateway_factory, upstream, signer)
    body = json.dumps(payload("sendgrid_events.json")).encode()
    plain = {"Content-Type": "application/json"}
    assert (await post(gw.http_port, "sendgrid", body, plain))[0] == 401
    other = SendgridSigner().headers(body)  # a key that is not the configured one
    assert (await post(gw.http_port, "sendgrid", body, other))[0] == 403
    altered = body.replace(b"spammy@test.com", b"victim@test.com")
    assert (await post(gw.http_port, "sendgrid", altered, signer.headers(body)))[0] == 403
    stale = signer.headers(body, timestamp=int(time.time()) - 3600)
    assert (await post(gw.http_port, "sendgrid", body, stale))[0] == 403
    for no_moment in ("nan", "inf"):  # float() reads each; signed with the configured key
        odd = signer.headers(body, timestamp=no_moment)
        assert (await post(gw.http_port, "sendgrid", body, odd))[0] == 403, no_moment
    for address in (BOUNCED, COMPLAINED, "victim@test.com"):
        assert await reasons(gw, address) == set()
        assert await report_rows(gw, address) == 0
