"""The data export and the signed proof at a moment through the admin API, over real HTTP:
JSON and PDF forms, the decision proof verified with the public key alone, and the errors."""

from __future__ import annotations

import asyncio
import json
import shutil
import smtplib
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.consent.signing import SigningError, verify
from gateway.store.records import DecisionQuery
from tests.support.waiting import settled

TOKEN = "test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROOF = {"ip": "192.0.2.7", "form": "signup/3", "text": "Send me news"}


def send(port: int) -> None:
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.sendmail(
            "receipts@shop.example", ["eva@example.org"], "Subject: Receipt\r\n\r\nHi\r\n"
        )


async def rcpt_rows(gw: Any) -> list[Any]:
    rows = await gw.store.decisions(DecisionQuery(recipient="eva@example.org"))
    return [(seq, decision) for seq, decision in rows if decision.phase == "rcpt"]


@pytest.fixture
async def setup(tmp_path: Path, gateway_factory: Any, upstream: Any) -> Any:
    key = Ed25519PrivateKey.generate()
    (tmp_path / "log.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    gw = await gateway_factory(
        upstream.url,
        http={"admin_token": TOKEN},
        streams=[{"sender": "receipts@shop.example", "purpose": "transactional"}],
        log={"signing_key_file": str(tmp_path / "log.pem")},
    )
    async with aiohttp.ClientSession(headers=AUTH) as session:
        base = f"http://127.0.0.1:{gw.http_port}/api/v1"
        async with session.post(
            f"{base}/contacts/eva@example.org/consents", json={"topic": "news", "proof": PROOF}
        ) as reply:
            assert reply.status == 201, await reply.text()
        await asyncio.to_thread(send, gw.smtp_port)
        await asyncio.to_thread(upstream.handler.wait_for, 1)
        await settled(gw)  # the delivery row is in the log too, beside the RCPT row
        yield gw, session, base, key.public_key()


async def test_export_json_and_pdf(setup: Any, tmp_path: Path) -> None:
    gw, session, base, _ = setup
    async with session.get(f"{base}/contacts/Eva@Example.org/export") as reply:
        assert reply.status == 200
        doc = await reply.json()
    [consent] = doc["consents"]
    assert (consent["topic"], consent["proof"]) == ("news", PROOF)
    [(seq, decision)] = await rcpt_rows(gw)
    [row] = [r for r in doc["decisions"]["rows"] if r["seq"] == seq]
    assert len(doc["decisions"]["rows"]) == 2, "the RCPT decision and the delivery"
    assert (row["seq"], row["id"], row["purpose"], row["rule"]) == (
        seq,
        decision.id,
        "transactional",
        decision.rule,
    )
    async with session.get(f"{base}/contacts/eva@example.org/export?format=pdf") as reply:
        assert reply.status == 200 and reply.content_type == "application/pdf"
        assert "attachment" in reply.headers["Content-Disposition"]
        pdf = await reply.read()
    assert pdf.startswith(b"%PDF-")
    if shutil.which("pdftotext"):
        (tmp_path / "eva.pdf").write_bytes(pdf)
        text = subprocess.run(
            ["pdftotext", str(tmp_path / "eva.pdf"), "-"], capture_output=True, text=True
        ).stdout
        assert "form: signup/3" in text and "Send me news" in text
    for path, status in (
        ("/contacts/nobody@example.org/export", 404),
        ("/contacts/eva@example.org/export?format=doc", 400),
        ("/contacts/eva@example.org/export?limit=99999999", 400),
    ):
        async with session.get(base + path) as reply:
            assert reply.status == status, path


async def test_decision_proof_is_signed_and_fails_when_altered(setup: Any) -> None:
    gw, session, base, public = setup
    [(seq, decision)] = await rcpt_rows(gw)
    async with session.get(f"{base}/decisions/{seq}/proof") as reply:
        assert reply.status == 200
        signed = await reply.json()
    document = verify(signed, public)
    assert document["decision"]["id"] == decision.id
    assert [c["topic"] for c in document["consents"]] == ["news"]
    altered = json.loads(json.dumps(signed))
    altered.get("document", altered)["decision"]["action"] = (
        "deny" if decision.action == "allow" else "allow"
    )
    with pytest.raises(SigningError):
        verify(altered, public)
    async with session.get(f"{base}/decisions/{seq + 100}/proof") as reply:
        assert reply.status == 404
