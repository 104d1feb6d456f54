"""`POST /hooks/ses`: Amazon SES bounce and complaint notifications through SNS
(docs/design.md §8).

Verified as Amazon SNS's "Verifying the signatures of Amazon SNS messages" says: the topic
must be one of `hooks.ses_topic_arns`; `SigningCertURL` must be https on
`sns.<region>.amazonaws.com` (the topic's region); the certificate there (fetched once,
then cached) must verify `Signature` over the canonical string of the message's fields,
RSA with SHA1 for SignatureVersion 1 and SHA256 for 2; `Timestamp` must be within
`hooks.max_age`, and a MessageId is taken once.

SubscriptionConfirmation: with `hooks.ses_auto_confirm` (the default) the gateway confirms by
fetching its SubscribeURL, which must be on the same SNS host; otherwise, or if that fails,
the URL is logged for an operator to open. The fetcher is injectable (`SnsCertificates.fetch`)
so tests serve their own certificate.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from gateway.config_values import parse_duration
from gateway.reports import Report, classify
from gateway.reports.model import COMPLAINT, DELIVERED, HARD, SENDER, SOFT
from gateway.web.context import CONTEXT
from gateway.web.hooks_common import (
    Refused,
    address_of,
    array,
    check_age,
    forged,
    load_json,
    mapping,
    read_body,
    refusal,
    report,
    take,
    unsigned,
)

log = logging.getLogger(__name__)

PROVIDER = "ses"
SIGNED_FIELDS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
SIGNED_FIELDS["UnsubscribeConfirmation"] = SIGNED_FIELDS["SubscriptionConfirmation"]
HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
CACHED = 16
"""Certificates kept: SNS signs with one per region, rotated now and then."""
FETCH_TIMEOUT = 10.0

Fetch = Callable[[str], Awaitable[bytes]]


async def https_get(url: str) -> bytes:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT)) as session,
        session.get(url) as response,
    ):
        response.raise_for_status()
        return await response.read()


class SnsCertificates:
    """Signing certificates by URL, fetched once through `fetch`."""

    def __init__(self, fetch: Fetch = https_get) -> None:
        self.fetch = fetch
        self._cache: dict[str, x509.Certificate] = {}

    async def get(self, url: str) -> x509.Certificate:
        if url not in self._cache:
            try:
                certificate = x509.load_pem_x509_certificate(await self.fetch(url))
            except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
                raise forged(f"cannot load the signing certificate: {exc}") from exc
            if len(self._cache) >= CACHED:
                self._cache.pop(next(iter(self._cache)))
            self._cache[url] = certificate
        return self._cache[url]


CERTIFICATES: web.AppKey[SnsCertificates] = web.AppKey("ses-certificates", SnsCertificates)


def sns_host(url: str, topic: str) -> bool:
    """An https URL on the SNS endpoint of the topic's region (China's too)."""
    region = topic.split(":")[3]
    hosts = (f"sns.{region}.amazonaws.com", f"sns.{region}.amazonaws.com.cn")
    try:  # `https://[::1` and a port that is no number or past 65535 raise ValueError
        parts = urlsplit(url)
        return parts.scheme == "https" and parts.hostname in hosts and parts.port in (None, 443)
    except ValueError:
        return False


def string_to_sign(message: dict[str, Any]) -> bytes:
    fields = SIGNED_FIELDS[message["Type"]]
    return "".join(f"{k}\n{message[k]}\n" for k in fields if k in message).encode()


async def verify(
    message: Any, topics: list[str], certificates: SnsCertificates, max_age: float
) -> dict[str, Any]:
    if not isinstance(message, dict) or not message.get("Signature"):
        raise unsigned("no signature")
    # as text: a list or an object (unhashable) was a TypeError, a 500, before any check
    topic, kind = str(message.get("TopicArn")), str(message.get("Type"))
    if topic not in topics:
        raise forged("topic not in hooks.ses_topic_arns")
    algorithm = HASHES.get(str(message.get("SignatureVersion")))
    url = str(message.get("SigningCertURL"))
    if kind not in SIGNED_FIELDS or algorithm is None or not sns_host(url, topic):
        raise forged("not an SNS message type, signature version or certificate host")
    key = (await certificates.get(url)).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise forged("the signing certificate has no RSA key")
    try:
        key.verify(
            base64.b64decode(message["Signature"]),
            string_to_sign(message),
            padding.PKCS1v15(),
            algorithm(),
        )
        check_age(datetime.fromisoformat(message["Timestamp"]).timestamp(), max_age)
    except (InvalidSignature, binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise forged("signature does not match") from exc
    return message


def reports(notification: Any) -> list[Report]:
    """SES's bounce and complaint notifications (event publishing's `eventType` too)."""
    if not isinstance(notification, dict):
        return []
    kind = notification.get("notificationType") or notification.get("eventType")
    mail = mapping(notification.get("mail"))
    message_id = str(mapping(mail.get("commonHeaders")).get("messageId") or "")
    if kind == "Bounce":
        return _bounces(mapping(notification.get("bounce")), message_id)
    if kind == "Complaint":
        complaint = mapping(notification.get("complaint"))
        feedback = str(complaint.get("complaintFeedbackType") or "abuse")
        outcome = DELIVERED if feedback == "not-spam" else COMPLAINT
        return [
            report(
                PROVIDER,
                "arf",
                address_of(r.get("emailAddress")),
                outcome,
                feedback,
                message_id=message_id,
            )
            for r in array(complaint.get("complainedRecipients"))
            if isinstance(r, dict)
        ]
    return []


def _bounces(bounce: dict[str, Any], message_id: str) -> list[Report]:
    permanent = bounce.get("bounceType") == "Permanent"
    subtype = str(bounce.get("bounceSubType") or "")
    found = []
    for r in array(bounce.get("bouncedRecipients")):
        if not isinstance(r, dict):
            continue
        status, text = str(r.get("status") or ""), str(r.get("diagnosticCode") or "")
        outcome, why = (HARD if permanent else SOFT), f"{bounce.get('bounceType')}/{subtype}"
        if status or text:
            outcome, why = classify(str(r.get("action") or "failed"), status, text)
            if outcome == HARD and not permanent:  # SES says transient: not the mailbox's end
                outcome = SOFT
        if outcome != SENDER and permanent and subtype in ("NoEmail", "Suppressed"):
            outcome = HARD
        found.append(
            report(
                PROVIDER,
                "bounce",
                address_of(r.get("emailAddress")),
                outcome,
                why,
                status=status,
                diagnostic=text,
                message_id=message_id,
                remote_mta=str(bounce.get("reportingMTA") or ""),
            )
        )
    return found


async def confirm(message: dict[str, Any], auto: bool, certificates: SnsCertificates) -> None:
    url, topic = str(message.get("SubscribeURL")), str(message["TopicArn"])
    if auto and sns_host(url, topic):
        try:
            await certificates.fetch(url)
            log.info("SES: subscribed to %s", topic)
            return
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("SES: confirming the subscription to %s failed: %s", topic, exc)
    log.warning("SES: the subscription to %s awaits confirmation: open %s", topic, url)


async def hook(request: web.Request) -> web.Response:
    config = request.app[CONTEXT].config.hooks
    if not config.ses_topic_arns:
        raise web.HTTPNotFound()
    max_age = parse_duration(config.max_age)
    certificates = request.app[CERTIFICATES]
    try:
        message = await verify(
            load_json(await read_body(request)), config.ses_topic_arns, certificates, max_age
        )
        if message["Type"] == "Notification":
            found = reports(load_json(str(message.get("Message", "")).encode()))
        else:
            found = []
            if message["Type"] == "SubscriptionConfirmation":
                await confirm(message, config.ses_auto_confirm, certificates)
        return await take(request, PROVIDER, str(message.get("MessageId")), 2 * max_age, found)
    except Refused as exc:
        return refusal(PROVIDER, exc)
