from __future__ import annotations

import base64
import re
from collections.abc import Callable
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from gateway.pipeline.transform.dkim import DkimSigner
from gateway.pipeline.transform.headers import prepend
from gateway.pipeline.transform.unsubscribe import list_unsubscribe_fields
from tests.support.keys import write_key

UNSUBSCRIBE = list_unsubscribe_fields(
    "https://gk.example.com/u/TOKEN", "mailto:unsubscribe+TOKEN@gk.example.com"
)
MESSAGE = prepend(UNSUBSCRIBE) + (
    b"From: Shop <news@example.com>\r\n"
    b"To: alice@example.org\r\n"
    b"Subject: Spring offers\r\n"
    b"Date: Mon, 03 Mar 2025 10:00:00 +0000\r\n"
    b"Message-ID: <1@example.com>\r\n"
    b"X-Mailer: app\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Hello Alice,\r\n"
    b"\r\n"
    b"our offers.\r\n"
)


def _dns(signer: DkimSigner) -> Callable[..., bytes]:
    def lookup(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"sel1._domainkey.example.com."
        return signer.public_dns_record().encode()

    return lookup


def _tags(field: bytes) -> dict[str, str]:
    value = re.sub(r"\s+", "", field.decode().partition(":")[2])
    return dict(tag.split("=", 1) for tag in value.strip(";").split(";"))


@pytest.fixture(params=["rsa", "ed25519"])
def signer(request: pytest.FixtureRequest, tmp_path: Path) -> DkimSigner:
    if request.param == "ed25519":
        pytest.importorskip("nacl", reason="dkimpy verifies ed25519 only with PyNaCl")
        key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey = ed25519.Ed25519PrivateKey.generate()
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return DkimSigner("example.com", "sel1", write_key(tmp_path / "dkim.pem", key))


async def test_signature_verifies(signer: DkimSigner) -> None:
    field = await signer.sign(MESSAGE)
    assert field.startswith(b"DKIM-Signature: ")
    assert field.endswith(b"\r\n") and not field.endswith(b"\r\n\r\n")
    assert all(len(line) <= 78 for line in field.split(b"\r\n"))
    assert dkim.verify(field + MESSAGE, dnsfunc=_dns(signer))


async def test_signed_headers_and_tags(signer: DkimSigner) -> None:
    tags = _tags(await signer.sign(MESSAGE))
    signed = tags["h"].split(":")
    assert signed == [
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "content-type",
        "list-unsubscribe",
        "list-unsubscribe-post",
    ]
    assert tags["c"] == "relaxed/relaxed"
    assert (tags["d"], tags["s"]) == ("example.com", "sel1")


async def test_modified_list_unsubscribe_fails(signer: DkimSigner) -> None:
    signed = await signer.sign(MESSAGE) + MESSAGE
    tampered = signed.replace(b"https://gk.example.com/u/TOKEN", b"https://evil.example/u/X")
    assert not dkim.verify(tampered, dnsfunc=_dns(signer))
    dropped_post = signed.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", b"")
    assert not dkim.verify(dropped_post, dnsfunc=_dns(signer))


async def test_modified_body_fails(signer: DkimSigner) -> None:
    signed = await signer.sign(MESSAGE) + MESSAGE
    assert not dkim.verify(signed.replace(b"our offers", b"our 0ffers"), dnsfunc=_dns(signer))


async def test_relaxed_canonicalisation_tolerates_refolding(signer: DkimSigner) -> None:
    signed = await signer.sign(MESSAGE) + MESSAGE
    refolded = signed.replace(b"Subject: Spring offers", b"Subject:  Spring\r\n offers")
    assert dkim.verify(refolded, dnsfunc=_dns(signer))


def test_public_record_formats(tmp_path: Path) -> None:
    ed_key = ed25519.Ed25519PrivateKey.generate()
    ed_path = write_key(tmp_path / "dkim.pem", ed_key)
    ed_record = DkimSigner("example.com", "s", ed_path).public_dns_record()
    raw = ed_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert ed_record == f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}"
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_path = write_key(tmp_path / "dkim.pem", rsa_key)
    rsa_record = DkimSigner("example.com", "s", rsa_path).public_dns_record()
    assert rsa_record.startswith("v=DKIM1; k=rsa; p=MII")


def test_dkimpy_raw_ed25519_key_file(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    path = tmp_path / "ed.key"
    path.write_bytes(base64.b64encode(raw) + b"\n")
    pem_signer = DkimSigner("example.com", "s", write_key(tmp_path / "dkim.pem", key))
    raw_signer = DkimSigner("example.com", "s", path)
    assert raw_signer.public_dns_record() == pem_signer.public_dns_record()


def test_unsupported_key_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "ec.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ValueError):
        DkimSigner("example.com", "s", path)


def test_message_without_from_refused(signer: DkimSigner) -> None:
    with pytest.raises(ValueError):
        signer.sign_now(b"To: a@b.c\r\n\r\nbody\r\n")
