"""Provider webhooks (gateway/web/hooks_*.py) fed what no provider sends.

Credentials that are not base64 ASCII, and an SNS message whose fields are not the strings
SNS writes, reached code that assumed the provider's shape and were a 500 (a provider
retries those for days); they are now refused (401, 403) before anything is fetched or
checked further, and change nothing. A signed payload whose nested fields are of another
JSON type than documented had the same 500 (AttributeError): such a field now reads as
absent, and the rest of the event is taken.
"""

from __future__ import annotations

import json

from gateway.web.hooks_ses import CERTIFICATES
from tests.hostile.http import raw_request
from tests.support.hooks import (
    CERT_URL,
    MAILGUN_KEY,
    TOPIC,
    SnsSigner,
    mailgun_signed,
    payload,
    post,
    reasons,
)

USER, PASSWORD = "postmark", "correct horse battery staple"
JSON = b"Content-Type: application/json\r\n"


async def test_basic_auth_that_is_not_ascii_is_a_401(upstream, gateway_factory):
    """base64.b64decode raises a plain ValueError for text that is not ASCII."""
    gw = await gateway_factory(
        upstream.url, hooks={"postmark_username": USER, "postmark_password": PASSWORD}
    )
    bounce = json.dumps(payload("postmark_bounce.json")).encode()
    for credentials in (b"\xc3\xa9t\xc3\xa9", b"\xff\xfe"):  # UTF-8 text, and not UTF-8
        header = b"Authorization: Basic " + credentials + b"\r\n" + JSON
        assert await raw_request(gw.http_port, "POST", "/hooks/postmark", header, bounce) == 401
    assert await gw.store.suppressions("john@example.com") == []


async def test_an_sns_message_whose_fields_are_not_strings_is_a_403(upstream, gateway_factory):
    """Before its signature is checked: a Type that is a list or an object was unhashable
    (TypeError), a certificate URL that urlsplit cannot read a ValueError."""
    gw = await gateway_factory(upstream.url, hooks={"ses_topic_arns": [TOPIC]})
    fetched: list[str] = []

    async def fetch(url: str) -> bytes:
        fetched.append(url)
        raise OSError("no fetching here")

    gw.http_runner.app[CERTIFICATES].fetch = fetch
    bounce = json.dumps(payload("ses_bounce.json"))
    message = {"Type": "Notification", "TopicArn": TOPIC, "Message": bounce, "MessageId": "m1"}
    message |= {"Signature": "c2ln", "SignatureVersion": "1", "SigningCertURL": CERT_URL}
    odd = [("Type", ["Notification"]), ("Type", {"Notification": 1})]
    odd += [("SigningCertURL", url) for url in ("https://[::1", CERT_URL.replace(".com/", ":x/"))]
    odd += [("SigningCertURL", CERT_URL.replace(".com/", ".com:99999/"))]
    for name, value in odd:
        status, _ = await post(
            gw.http_port, "ses", json.dumps({**message, name: value}).encode(), {}
        )
        assert status == 403, (name, value)
    assert fetched == []
    assert await gw.store.suppressions("jane@example.com") == []


async def test_a_signed_mailgun_event_with_fields_of_another_type_is_taken(
    upstream, gateway_factory
):
    gw = await gateway_factory(upstream.url, hooks={"mailgun_signing_key": MAILGUN_KEY})
    failed = payload("mailgun_failed.json")["event-data"]
    odd = [("message", "text"), ("message", {"headers": ["x"]}), ("delivery-status", 550)]
    for name, value in odd:
        body = mailgun_signed({"event-data": {**failed, name: value}})
        status, text = await post(gw.http_port, "mailgun", body, {})
        assert status == 200, (name, value, text)
        assert [a["recipient"] for a in json.loads(text)["applied"]] == ["alice@example.com"]
    assert ("all", "hard-bounce") in await reasons(gw, "alice@example.com")


async def test_a_signed_ses_notification_with_fields_of_another_type_is_taken(
    upstream, gateway_factory
):
    gw = await gateway_factory(upstream.url, hooks={"ses_topic_arns": [TOPIC]})
    signer = SnsSigner()

    async def fetch(url: str) -> bytes:
        return signer.pem

    gw.http_runner.app[CERTIFICATES].fetch = fetch
    bounce, complaint = payload("ses_bounce.json"), payload("ses_complaint.json")
    odd = [
        ({**complaint, "mail": {"commonHeaders": "x"}, "complaint": "x"}, []),
        ({**complaint, "complaint": {"complainedRecipients": 5}}, []),
        ({**bounce, "bounce": {**bounce["bounce"], "bouncedRecipients": 5}}, []),
        ({**bounce, "mail": [1]}, ["jane@example.com"]),
    ]
    for notification, taken in odd:
        message = signer.message("Notification", Message=json.dumps(notification))
        status, text = await post(gw.http_port, "ses", json.dumps(message).encode(), {})
        assert status == 200, text
        assert [a["recipient"] for a in json.loads(text)["applied"]] == taken
    assert await reasons(gw, "richard@example.com") == set()
    assert ("all", "hard-bounce") in await reasons(gw, "jane@example.com")
