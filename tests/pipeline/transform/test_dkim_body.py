"""DKIM body hashing a window at a time (gateway/pipeline/transform/dkim.py, issue 11): the
same hash as dkimpy's whole-message parse and relaxed canonicalisation wherever the windows
end, signatures over fields kept apart (`front`) that verify, and no copy of the message."""

from __future__ import annotations

import hashlib
import itertools
import tracemalloc
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from dkim.canonicalization import CanonicalizationPolicy

from gateway.pipeline.transform import dkim as signing
from gateway.pipeline.transform.dkim import DkimSigner, body_start, relaxed_body_hash
from tests.support.keys import write_key

HEAD = b"From: <a@example.com>\r\nSubject: s\r\n"
BODIES = [
    b"",
    b"\r\n",
    b"\r\n\r\n\r\n",
    b"text",
    b"text\r\n",
    b"text\r\n\r\n\r\n",
    b"\r\n\r\ntext \t \r\n\r\n  \r\n\t\r\n",
    b"a  b\t\tc \r\nd\r\n \r\n\r\ne\r\n",
    b"lf only\nlines\n\n\n",
    b"mixed\r\nends\nand \r\r\n\r\n",
    b"cr\r\r\n\r\r\n",
    b"trailing cr\r",
    b"spaces at the end   ",
    b"tab\t \t \tand  spaces \t\r\n\t\r\n \r\r\n  x \t",
    b"    indented\r\n\t\ttabbed\r\n" * 3 + b"\r\n \r\n",
]


def dkimpy_hash(message: bytes) -> bytes:
    _, body = dkim.rfc822_parse(message)
    policy = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
    return hashlib.sha256(policy.canonicalize_body(body)).digest()


@pytest.mark.parametrize("window", [1, 2, 3, 5, 8, 64])
@pytest.mark.parametrize(("head", "body"), list(itertools.product([HEAD, b""], BODIES)))
def test_the_body_hash_is_dkimpys(
    monkeypatch: pytest.MonkeyPatch, window: int, head: bytes, body: bytes
):
    monkeypatch.setattr(signing, "_WINDOW", window)
    for blank in (b"\r\n", b"\n"):
        message = head + blank + body
        assert relaxed_body_hash(message, body_start(message)) == dkimpy_hash(message)
    # no empty line at all: all header, no body
    for fields in (HEAD, HEAD[:-2]):
        assert relaxed_body_hash(fields, body_start(fields)) == dkimpy_hash(fields)


@pytest.fixture
def signer(tmp_path: Path) -> DkimSigner:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return DkimSigner("example.com", "sel1", write_key(tmp_path / "dkim.pem", key))


async def test_fields_in_front_are_signed_with_the_message(signer: DkimSigner):
    front = b"Received: from x\r\nList-Unsubscribe: <https://gk.example.com/u/T>\r\n"
    data = b"From: <a@example.com>\r\nTo: <b@example.org>\r\n\r\nbody  \r\n\r\n"
    field = await signer.sign(data, front=front)
    assert b"list-unsubscribe" in field.replace(b"\r\n ", b"")
    dns = {b"sel1._domainkey.example.com.": signer.public_dns_record().encode()}
    assert dkim.verify(field + front + data, dnsfunc=lambda name, timeout=5: dns[name])
    assert field == signer.sign_now(front + data, now=_t(field))
    assert not dkim.verify(field + data, dnsfunc=lambda name, timeout=5: dns[name])


def _t(field: bytes) -> float:
    return float(field.replace(b"\r\n ", b"").split(b"t=")[1].split(b";")[0])


def test_a_large_message_is_signed_without_a_copy(signer: DkimSigner):
    size = 4 * 1024 * 1024
    data = HEAD + b"\r\n" + (b"x  y" * 19 + b"\r\n") * (size // 78)
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        signer.sign_now(data, front=b"X-Gatekeeper-Ref: r\r\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # windows of 256 KB and their canonical forms; dkimpy's parse made 4-5 copies
    assert peak - base < 0.5 * size, f"{(peak - base) / size:.2f} x"
