"""DKIM signing (RFC 6376) with RSA-SHA256 or Ed25519-SHA256 (RFC 8463).

dkimpy does the canonicalisation and header selection; the private-key operation uses the
``cryptography`` package. dkimpy's own ``sign()`` only takes key bytes: it signs RSA in pure
Python (milliseconds per message) and Ed25519 only through PyNaCl. Signing still runs in a
worker thread, because relaxed body canonicalisation of a large message is pure Python too:
on a pool of its own (`SIGNING`), so that a storm of AUTH password checks or a slow disk
under the outbox cannot hold a signature back, nor signing hold them back.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa, utils
from dkim.canonicalization import CanonicalizationPolicy

# Signed when present. From is mandatory (RFC 6376 §5.4); List-Unsubscribe and
# List-Unsubscribe-Post must be covered for one-click unsubscribe (RFC 8058 §4).
SIGNED_FIELDS: tuple[str, ...] = (
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "list-id",
    "feedback-id",
)

_CANONICALIZATION = b"relaxed/relaxed"
_FIELD_NAME = b"DKIM-Signature"
# A b= placeholder long enough to fold onto its own line, so that the folding of the
# other tags is the same with the real signature in place (as dkimpy does).
_B_PLACEHOLDER = b"0" * 60
# dkimpy's ed25519 key format (dknewkey): base64 of the raw 32-byte private key.
_RAW_ED25519 = re.compile(rb"\s*[A-Za-z0-9+/]{43}=\s*")

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

SIGNING = ThreadPoolExecutor(2, thread_name_prefix="gatekeeper-dkim")
"""Signing threads: two, since canonicalisation holds the GIL and more would only queue."""


class DkimSigner:
    """Signs outgoing messages for one domain and selector."""

    def __init__(self, domain: str, selector: str, key_file: str | Path) -> None:
        self.domain = domain
        self.selector = selector
        self._key = _load_key(Path(key_file).read_bytes())
        is_rsa = isinstance(self._key, rsa.RSAPrivateKey)
        self._algorithm = b"rsa-sha256" if is_rsa else b"ed25519-sha256"

    async def sign(self, data: bytes) -> bytes:
        """The ``DKIM-Signature: ...\\r\\n`` field to prepend to ``data``."""
        return await asyncio.get_running_loop().run_in_executor(SIGNING, self.sign_now, data)

    def sign_now(self, data: bytes, now: float | None = None) -> bytes:
        """Blocking form of ``sign``; ``now`` (Unix time) sets the t= tag."""
        headers, body = dkim.rfc822_parse(data)
        present = {name.lower() for name, _ in headers}
        include = [name.encode() for name in SIGNED_FIELDS if name.encode() in present]
        if b"from" not in include:
            raise ValueError("a DKIM signature must cover From (RFC 6376 §5.4)")
        policy = CanonicalizationPolicy.from_c_value(_CANONICALIZATION)
        body_hash = base64.b64encode(hashlib.sha256(policy.canonicalize_body(body)).digest())
        tags = [
            (b"v", b"1"),
            (b"a", self._algorithm),
            (b"c", _CANONICALIZATION),
            (b"d", self.domain.encode()),
            (b"s", self.selector.encode()),
            (b"t", str(int(time.time() if now is None else now)).encode()),
            (b"h", b" : ".join(include)),
            (b"bh", body_hash),
        ]
        unsigned = _field_value([*tags, (b"b", _B_PLACEHOLDER)])
        hasher = hashlib.sha256()
        # hash_headers blanks b= and hashes the chosen fields, then the signature field.
        dkim.hash_headers(
            hasher,
            policy,
            policy.canonicalize_headers(headers),
            include,
            (_FIELD_NAME, b" " + unsigned),
            {},
        )
        signature = base64.b64encode(self._sign_digest(hasher.digest()))
        return _FIELD_NAME + b": " + _field_value([*tags, (b"b", signature)]) + b"\r\n"

    def public_dns_record(self) -> str:
        """TXT record text to publish at ``SELECTOR._domainkey.DOMAIN`` (RFC 6376 §3.6.1)."""
        public = self._key.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            der = public.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}"  # RFC 8463 §4.2

    def _sign_digest(self, digest: bytes) -> bytes:
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
        # RFC 8463 §3: Ed25519 signs the SHA-256 hash of the canonicalised headers.
        return self._key.sign(digest)


def _field_value(tags: list[tuple[bytes, bytes]]) -> bytes:
    joined = b"; ".join(name + b"=" + value for name, value in tags)
    return dkim.fold(joined, namelen=len(_FIELD_NAME))


def _load_key(data: bytes) -> PrivateKey:
    if _RAW_ED25519.fullmatch(data):
        return ed25519.Ed25519PrivateKey.from_private_bytes(base64.b64decode(data.strip()))
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise ValueError("DKIM key must be RSA or Ed25519")
    return key
