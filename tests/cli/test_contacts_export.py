"""`contacts export` and `contacts proof --message-id` as an operator runs them against the
store of a running gateway: a contact with consents (with proof), a customer relationship,
an unsubscribe and real decisions; the JSON holds each item, the PDF renders and names the
consents and their proof, the signed proof verifies with the public key alone and fails
when altered."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import smtplib
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from nacl.signing import VerifyKey

from gateway.store.records import DecisionQuery
from tests.support.cli import run_cli

CONTACTS = (
    "email,country,source,consent_topics,consent_at,double_opt_in_at,consent_proof,"
    "customer_kind,last_purchase_at,purchase_categories\n"
    "ann@example.cz,cz,signup-form,newsletter;offers,2026-01-05,2026-01-05T00:10:00,"
    "ip=192.0.2.1,purchase,2026-06-01,books\n"
)
NEWS = "From: news@shop.example\r\nSubject: News\r\nMessage-ID: <n1@shop.example>\r\n\r\nHi\r\n"


def send(port: int, sender: str, message: str) -> None:
    """Refused at DATA (no unsubscribe link): a decision with its rule and citation too."""
    with smtplib.SMTP("127.0.0.1", port) as client, pytest.raises(smtplib.SMTPDataError):
        client.sendmail(sender, ["ann@example.cz"], message)


@pytest.fixture
async def held(tmp_path: Path, upstream, gateway_factory):
    """A running gateway whose store holds Ann: consents, relationship, decisions, then an
    unsubscribe from offers; and its Ed25519 key pair files."""
    key = Ed25519PrivateKey.generate()
    (tmp_path / "log.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (tmp_path / "log.pub").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    gw = await gateway_factory(
        upstream.url,
        streams=[{"sender": "news@shop.example", "purpose": "marketing", "topic": "newsletter"}],
        identity={"name": "Shop s.r.o.", "postal_address": "Praha 1"},
        log={"signing_key_file": str(tmp_path / "log.pem")},
        # the CSV's dates are asserted as written: 0 = consent never lapses (docs/policies.md), so
        # Ann's stays live and NEWS is refused at DATA whenever the suite runs
        policy={"inactive_after_days": 0},
    )
    (tmp_path / "c.csv").write_text(CONTACTS)
    assert (await cli(tmp_path, "contacts", "import", "c.csv")).returncode == 0
    await asyncio.to_thread(send, gw.smtp_port, "news@shop.example", NEWS)
    await gw.writer.flush()
    unsubscribed = await cli(tmp_path, "suppress", "add", "ann@example.cz", "--scope", "offers")
    assert unsubscribed.returncode == 0, unsubscribed.stderr
    return gw


async def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    config = str(tmp_path / "gatekeeper.toml")
    return await asyncio.to_thread(run_cli, *args, "--config", config, cwd=tmp_path)


async def test_export_json_holds_every_item(tmp_path, held):
    done = await cli(tmp_path, "contacts", "export", "Ann@Example.CZ", "--out", "ann.json")
    assert done.returncode == 0, done.stderr
    doc = json.loads((tmp_path / "ann.json").read_text())
    live = await held.store.decisions(DecisionQuery(recipient="ann@example.cz"))
    assert (doc["format"], doc["version"], doc["subject"]) == (
        "gatekeeper-data-export",
        1,
        "ann@example.cz",
    )
    assert doc["controller"]["name"] == "Shop s.r.o."
    assert doc["controller"]["postal_address"] == "Praha 1"
    contact = doc["contact"]
    assert (contact["address"], contact["country"], contact["source"]) == (
        "ann@example.cz",
        "cz",
        "signup-form",
    )
    assert contact["created_at"]
    by_topic = {c["topic"]: c for c in doc["consents"]}
    assert set(by_topic) == {"newsletter", "offers"}
    news = by_topic["newsletter"]
    assert news["granted_at"].startswith("2026-01-05")
    assert news["double_opt_in_at"].startswith("2026-01-05T00:10")
    assert news["source"] == "signup-form"
    assert news["proof"] == "ip=192.0.2.1"  # as the CSV gave it (JSON evidence: an object)
    history = [(e["event"], e["topic"]) for e in doc["consent_history"]]
    assert ("grant", "newsletter") in history and ("confirm", "newsletter") in history
    assert all(
        "192.0.2.1" in str(e["proof"]) for e in doc["consent_history"] if e["event"] == "grant"
    )
    [customer] = doc["relationships"]
    assert customer["kind"] == "purchase" and customer["categories"] == "books"
    [suppression] = doc["suppressions"]
    assert (suppression["scope"], suppression["reason"]) == ("offers", "unsubscribed")
    decisions = doc["decisions"]
    assert decisions["complete"] and decisions["shown"] == len(live) >= 1
    rows = {row["id"]: row for row in decisions["rows"]}
    for seq, decision in live:
        row = rows[decision.id]
        assert row["seq"] == seq
        for key in ("time", "action", "purpose", "topic", "jurisdiction", "basis", "reason"):
            assert row[key] == getattr(decision, key), key
        assert (row["rule"], row["cite"], row["sender"]) == (
            decision.rule,
            decision.cite,
            decision.sender,
        )
    assert any(row["rule"] and row["cite"] for row in decisions["rows"])
    assert doc["chain"]["available"] is True


async def test_export_limit_is_said_in_the_document(tmp_path, held):
    done = await cli(tmp_path, "contacts", "export", "ann@example.cz", "--limit", "0")
    assert done.returncode == 0, done.stderr
    part = json.loads(done.stdout)["decisions"]
    assert (part["limit"], part["shown"], part["complete"], part["rows"]) == (0, 0, False, [])


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils: scripts/test.sh")
async def test_export_pdf_renders_and_names_consents_and_proof(tmp_path, held):
    done = await cli(
        tmp_path, "contacts", "export", "ann@example.cz", "--format", "pdf", "--out", "ann.pdf"
    )
    assert done.returncode == 0, done.stderr
    pdf = tmp_path / "ann.pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", pdf, tmp_path / "page"], check=True
    )
    [png] = tmp_path.glob("page*.png")
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 10_000
    text = subprocess.run(
        ["pdftotext", "-layout", pdf, "-"], check=True, capture_output=True, text=True
    ).stdout
    for expected in (
        "ann@example.cz",
        "Shop s.r.o.",
        "newsletter",
        "offers",
        "192.0.2.1",
        "signup-form",
        "unsubscribed",
        "books",
        "Article 15",
    ):
        assert expected in text, expected
    artifacts = Path(__file__).parents[1] / "artifacts"
    if artifacts.is_dir():  # kept for a person to look at (tests/artifacts)
        shutil.copy(png, artifacts / "contacts_export_page1.png")


async def test_proof_at_a_message_is_signed_and_verifies_with_the_public_key(tmp_path, held):
    done = await cli(
        tmp_path,
        "contacts",
        "proof",
        "ann@example.cz",
        "--message-id",
        "<n1@shop.example>",
        "--out",
        "proof.json",
    )
    assert done.returncode == 0, done.stderr
    signed = json.loads((tmp_path / "proof.json").read_text())
    doc = {k: v for k, v in signed.items() if k != "signature"}
    assert doc["format"] == "gatekeeper-decision-proof"
    assert doc["recipient"] == "ann@example.cz"
    assert doc["decision"]["message_id"] == "n1@shop.example"
    assert doc["decision"]["rule"] == "cz.content.unsubscribe-link" and doc["decision"]["cite"]
    assert doc["as_of"] == doc["decision"]["time"]
    # the unsubscribe came after the message: not in the state at that moment
    assert doc["suppressions"] == []
    assert {c["topic"] for c in doc["consents"]} == {"newsletter", "offers"}
    assert signed["signature"]["algorithm"] == "Ed25519"
    ok = await cli(tmp_path, "contacts", "verify", "proof.json", "--public-key", "log.pub")
    assert ok.returncode == 0, ok.stderr
    assert "signature verified" in ok.stdout
    signed["consents"][0]["double_opt_in_at"] = "2026-01-01T00:00:00Z"
    (tmp_path / "altered.json").write_text(json.dumps(signed))
    bad = await cli(tmp_path, "contacts", "verify", "altered.json", "--public-key", "log.pub")
    assert bad.returncode == 1 and "NOT VERIFIED" in bad.stderr
    # and with a library that is not the gateway's (PyNaCl), from the published key alone
    published = serialization.load_pem_public_key((tmp_path / "log.pub").read_bytes())
    raw = published.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    original = json.loads((tmp_path / "proof.json").read_text())
    body = json.dumps(
        {k: v for k, v in original.items() if k != "signature"},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    VerifyKey(raw).verify(body, base64.b64decode(original["signature"]["value"]))
