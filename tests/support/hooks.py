"""Provider webhook requests as each provider would sign them, with keys the tests make in
place of the providers' (docs/design.md §8), and the payloads from their documentation."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path
from typing import Any

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from gateway.store.records import DecisionQuery

DATA = Path(__file__).parent.parent / "data" / "hooks"
TOPIC = "arn:aws:sns:us-west-2:123456789012:ses-notifications"
CERT_URL = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-test.pem"


def payload(name: str) -> Any:
    return json.loads((DATA / name).read_text())


async def post(port: int, provider: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"http://127.0.0.1:{port}/hooks/{provider}", data=body, headers=headers
        ) as response,
    ):
        return response.status, await response.text()


async def report_rows(gw: Any, address: str) -> int:
    await gw.writer.flush()
    return len(await gw.store.decisions(DecisionQuery(recipient=address, phase="report")))


async def reasons(gw: Any, address: str) -> set[tuple[str, str]]:
    return {(s.scope, s.reason) for s in await gw.store.suppressions(address)}


# -- Amazon SNS ---------------------------------------------------------------------------


class SnsSigner:
    """A certificate of the test's own in place of the one SNS publishes."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
        now = dt.datetime.now(dt.UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.certificate.public_bytes(serialization.Encoding.PEM)

    def message(self, kind: str, version: str = "2", **fields: str) -> dict[str, str]:
        message = {
            "Type": kind,
            "MessageId": secrets.token_hex(16),
            "TopicArn": TOPIC,
            "Timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
            "SignatureVersion": version,
            "SigningCertURL": CERT_URL,
            **fields,
        }
        keys = (
            ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
            if kind == "Notification"
            else ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
        )
        signed = "".join(f"{k}\n{message[k]}\n" for k in keys if k in message).encode()
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(signed, padding.PKCS1v15(), algorithm)
        message["Signature"] = base64.b64encode(signature).decode()
        return message


# -- SendGrid -------------------------------------------------------------------------------


class SendgridSigner:
    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        der = self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key = base64.b64encode(der).decode()
        """As SendGrid's settings page shows the verification key."""

    def headers(self, body: bytes, timestamp: int | str | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        }


# -- Mailgun --------------------------------------------------------------------------------

MAILGUN_KEY = "key-" + "3ax6xnjp29jd6fds4gc373sgvjxteol0"


def mailgun_signed(
    body: dict[str, Any], key: str = MAILGUN_KEY, age: float = 0, timestamp: str | None = None
) -> bytes:
    timestamp = str(int(time.time() - age)) if timestamp is None else timestamp
    token = secrets.token_hex(25)
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    body = {**body, "signature": {"timestamp": timestamp, "token": token, "signature": signature}}
    return json.dumps(body).encode()


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
