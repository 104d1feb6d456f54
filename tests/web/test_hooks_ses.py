"""`POST /hooks/ses`: Amazon SES notifications through SNS, signed with a certificate the
test makes and serves on loopback in place of SNS's (docs/design.md §8). The documented
bounce and complaint suppress; SignatureVersion 1 and 2 both verify; a subscription is
confirmed through its SubscribeURL; an unsigned, forged, foreign-topic, foreign-host or
replayed message changes nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web

from gateway.web.hooks_ses import CERTIFICATES
from tests.support.hooks import TOPIC, SnsSigner, payload, post, reasons, report_rows
from tests.support.servers import Upstream

PLAIN = {"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification"}


class FakeSns:
    """Loopback stand-in for SNS's HTTPS endpoints: the signing certificate and the
    subscription confirmation; the gateway's fetcher is pointed at it."""

    def __init__(self, signer: SnsSigner) -> None:
        self.signer = signer
        self.paths: list[str] = []
        self.port = 0
        self.runner: web.AppRunner | None = None

    async def _serve(self, request: web.Request) -> web.Response:
        self.paths.append(request.path_qs)
        if request.path.endswith(".pem"):
            return web.Response(body=self.signer.pem)
        return web.Response(text="<ConfirmSubscriptionResponse/>")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._serve)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.port = int(self.runner.addresses[0][1])

    async def fetch(self, url: str) -> bytes:
        parts = urlsplit(url)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{self.port}{parts.path}?{parts.query}") as response,
        ):
            response.raise_for_status()
            return await response.read()


@pytest.fixture
async def sns() -> AsyncIterator[FakeSns]:
    fake = FakeSns(SnsSigner())
    await fake.start()
    yield fake
    assert fake.runner is not None
    await fake.runner.cleanup()


async def start(gateway_factory: Any, upstream: Upstream, sns: FakeSns) -> Any:
    gw = await gateway_factory(upstream.url, hooks={"ses_topic_arns": [TOPIC]})
    gw.http_runner.app[CERTIFICATES].fetch = sns.fetch
    return gw


def notification(sns: FakeSns, name: str, version: str = "2", **fields: str) -> bytes:
    message = sns.signer.message(
        "Notification", version, Message=json.dumps(payload(name)), **fields
    )
    return json.dumps(message).encode()


async def test_documented_bounce_and_complaint_suppress(
    gateway_factory: Any, upstream: Upstream, sns: FakeSns
) -> None:
    gw = await start(gateway_factory, upstream, sns)
    bounce = notification(sns, "ses_bounce.json", version="1")
    assert (await post(gw.http_port, "ses", bounce, PLAIN))[0] == 200
    complaint = notification(sns, "ses_complaint.json", version="2")
    assert (await post(gw.http_port, "ses", complaint, PLAIN))[0] == 200
    assert ("all", "hard-bounce") in await reasons(gw, "jane@example.com")
    assert ("all", "complaint") in await reasons(gw, "richard@example.com")
    assert await reasons(gw, "mary@example.com") == set()  # not in either notification
    # fetched once, then cached
    assert [p for p in sns.paths if ".pem" in p] == ["/SimpleNotificationService-test.pem"]
    rows = await report_rows(gw, "jane@example.com")
    assert (await post(gw.http_port, "ses", bounce, PLAIN))[0] == 403  # the same MessageId
    assert await report_rows(gw, "jane@example.com") == rows


async def test_subscription_is_confirmed_on_the_sns_host(
    gateway_factory: Any, upstream: Upstream, sns: FakeSns
) -> None:
    gw = await start(gateway_factory, upstream, sns)
    url = (
        "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription"
        f"&TopicArn={TOPIC}&Token=2336412f37"
    )
    message = sns.signer.message(
        "SubscriptionConfirmation",
        Message="You have chosen to subscribe to the topic.",
        SubscribeURL=url,
        Token="2336412f37",
    )
    status, _ = await post(gw.http_port, "ses", json.dumps(message).encode(), PLAIN)
    assert status == 200
    assert any("Action=ConfirmSubscription" in p for p in sns.paths)


async def test_unsigned_forged_and_foreign_messages_change_nothing(
    gateway_factory: Any, upstream: Upstream, sns: FakeSns
) -> None:
    gw = await start(gateway_factory, upstream, sns)
    signed = json.loads(notification(sns, "ses_bounce.json"))
    unsigned = {k: v for k, v in signed.items() if k != "Signature"}
    assert (await post(gw.http_port, "ses", json.dumps(unsigned).encode(), PLAIN))[0] == 401
    altered = {**signed, "Message": signed["Message"].replace("jane@", "joan@")}
    impostor = json.loads(notification(FakeSns(SnsSigner()), "ses_bounce.json"))
    foreign_topic = json.loads(
        notification(sns, "ses_bounce.json", TopicArn="arn:aws:sns:us-west-2:999:other")
    )
    foreign_host = json.loads(
        notification(sns, "ses_bounce.json", SigningCertURL="https://evil.example/sns.pem")
    )
    for message in (altered, impostor, foreign_topic, foreign_host):
        status, _ = await post(gw.http_port, "ses", json.dumps(message).encode(), PLAIN)
        assert status == 403
    assert not any("evil" in p for p in sns.paths)
    for address in ("jane@example.com", "joan@example.com"):
        assert await reasons(gw, address) == set()
        assert await report_rows(gw, address) == 0
