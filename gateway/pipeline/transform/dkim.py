"""DKIM signing (RFC 6376) with RSA-SHA256 or Ed25519-SHA256 (RFC 8463).

dkimpy does the canonicalisation and header selection; the private-key operation uses the
``cryptography`` package. dkimpy's own ``sign()`` only takes key bytes: it signs RSA in pure
Python (milliseconds per message) and Ed25519 only through PyNaCl. Signing still runs in a
worker thread, because relaxed body canonicalisation of a large message is pure Python too:
on a pool of its own (`SIGNING`), so that a storm of AUTH password checks or a slow disk
under the outbox cannot hold a signature back, nor signing hold them back.

A large message is hashed a window of lines at a time (`body_hash`): dkimpy's parse and
relaxed canonicalisation of a whole message made four to five copies of it (issue 11).
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

from gateway.pipeline.mime import header_block

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
_WINDOW = 256 * 1024
"""Bytes of body canonicalised and hashed at a time."""
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

    async def sign(self, data: bytes, front: bytes = b"") -> bytes:
        """The ``DKIM-Signature: ...\\r\\n`` field to prepend to ``front + data``.

        ``front``: header fields put before ``data`` (apart, so the message is not copied)."""
        return await asyncio.get_running_loop().run_in_executor(
            SIGNING, self.sign_now, data, None, front
        )

    def sign_now(self, data: bytes, now: float | None = None, front: bytes = b"") -> bytes:
        """Blocking form of ``sign``; ``now`` (Unix time) sets the t= tag."""
        body = body_start(data)
        headers, _ = dkim.rfc822_parse(front + data[:body])
        present = {name.lower() for name, _ in headers}
        include = [name.encode() for name in SIGNED_FIELDS if name.encode() in present]
        if b"from" not in include:
            raise ValueError("a DKIM signature must cover From (RFC 6376 §5.4)")
        policy = CanonicalizationPolicy.from_c_value(_CANONICALIZATION)
        body_hash = base64.b64encode(relaxed_body_hash(data, body))
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


def body_start(data: bytes) -> int:
    """Where the body of ``data`` begins: after the first empty line (dkimpy's
    ``rfc822_parse``: CRLF or LF), or at its end when there is none."""
    fields = header_block(data)
    if len(fields) == len(data):
        return len(data)
    return len(fields) + (1 if data.startswith(b"\n", len(fields)) else 2)


def relaxed_body_hash(data: bytes, start: int) -> bytes:
    """SHA-256 of ``data[start:]`` as dkimpy canonicalises a body (relaxed, RFC 6376 §3.4.4:
    line ends made CRLF, trailing WSP dropped, WSP runs made one SP, no empty lines at the
    end, an empty body hashed as nothing), done a window of whole lines at a time.

    Each step is local to a line, so windows cut after an LF canonicalise as the whole
    would; only the CRLFs at a window's end wait until some text follows them."""
    hasher = hashlib.sha256()
    held = 0  # empty lines (CRLFs) not hashed yet: dropped if nothing follows them
    text = False
    while start < len(data):
        end = data.find(b"\n", min(start + _WINDOW, len(data)) - 1) + 1 or len(data)
        window = _relaxed(data[start:end])
        ends = _empty_line_ends(window)
        start = end
        if ends * 2 < len(window):
            _empty_lines(hasher, held)
            hasher.update(memoryview(window)[: len(window) - 2 * ends])
            held = 0
            text = True
        held += ends
    if text:
        hasher.update(b"\r\n")
    return hasher.digest()


def _relaxed(window: bytes) -> bytes:
    """dkimpy's line ends (`\\r?\\n` -> CRLF), `strip_trailing_whitespace` and
    `compress_whitespace`, by plain replaces: its `re.sub`s made two objects per match,
    megabytes for a window of words. A run of WSP made one SP first, then one before CRLF
    dropped, is the same as dkimpy's order."""
    if window.count(b"\n") != window.count(b"\r\n"):
        window = window.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    window = window.replace(b"\t", b" ")
    while b"  " in window:  # halves every run: a few passes
        window = window.replace(b"  ", b" ")
    return window.replace(b" \r\n", b"\r\n")


def _empty_lines(hasher: hashlib._Hash, count: int) -> None:
    """`count` CRLFs hashed a bounded block at a time (a body of blank lines is no copy)."""
    block = b"\r\n" * min(count, _WINDOW // 2 + 1)
    while count > 0:
        hasher.update(block[: 2 * count])
        count -= len(block) // 2


def _empty_line_ends(window: bytes) -> int:
    """How many CRLFs end `window` (line ends already CRLF), counted without a loop per
    CRLF: what `rstrip` takes is CRLFs and CRs alone, and the CRLFs that count follow the
    last CR alone."""
    tail = window[len(window.rstrip(b"\r\n")) :]
    if not tail.endswith(b"\n"):
        return 0
    return (len(tail) - tail.rfind(b"\r\r") - 1) // 2


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
