"""Signed documents (docs/accountability.md): a checkpoint of the decision chain, a proof
export. Ed25519 (RFC 8032) with the key of `log.signing_key_file`; the signature covers the
document without its `signature` member, serialised as canonical JSON (keys sorted, no
spaces, UTF-8), so anyone holding the public key and `cryptography` can check it:

    "signature": {"algorithm": "Ed25519", "public_key": <base64 of the raw 32-byte key>,
                  "value": <base64 of the 64-byte signature>}
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gateway.config import Config

ALGORITHM = "Ed25519"


class SigningError(ValueError):
    """The key cannot be used, or a signature does not verify: one line."""


def canonical_bytes(document: dict[str, Any]) -> bytes:
    """What is signed: the document without `signature`, as canonical JSON."""
    body = {k: v for k, v in document.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def load_private_key(path: str) -> Ed25519PrivateKey:
    """The Ed25519 private key of a PEM file (PKCS#8: `openssl genpkey -algorithm ed25519`)."""
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SigningError(f"log.signing_key_file {path}: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"log.signing_key_file {path}: not an Ed25519 key")
    return key


def signing_key(config: Config) -> Ed25519PrivateKey | None:
    """The configured key; None when `log.signing_key_file` is unset."""
    name = config.log.signing_key_file
    return load_private_key(name) if name else None


def public_key_text(key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key (RFC 8032 §5.1.5), base64."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def sign(document: dict[str, Any], key: Ed25519PrivateKey | None) -> dict[str, Any]:
    """The document with its `signature` member (unchanged when there is no key)."""
    if key is None:
        return document
    value = key.sign(canonical_bytes(document))
    return {
        **document,
        "signature": {
            "algorithm": ALGORITHM,
            "public_key": public_key_text(key.public_key()),
            "value": base64.b64encode(value).decode(),
        },
    }


def load_public_key(data: str | bytes) -> Ed25519PublicKey:
    """A public key as PEM (`openssl pkey -pubout`), as the base64 of its raw 32 bytes, or
    (given as text) the name of a file holding either."""
    if isinstance(data, str):
        path = Path(data)
        data = path.read_bytes() if len(data) < 4096 and path.is_file() else data.encode()
    text = data.strip()
    try:
        if text.startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(text)
            if not isinstance(key, Ed25519PublicKey):
                raise SigningError("the public key is not an Ed25519 key")
            return key
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error) as exc:
        raise SigningError(f"cannot read the public key: {exc}") from exc


def verify(document: Any, public_key: Ed25519PublicKey) -> dict[str, Any]:
    """The document, once its signature verifies with this key; else SigningError."""
    signature = document.get("signature") if isinstance(document, dict) else None
    if not isinstance(signature, dict) or signature.get("algorithm") != ALGORITHM:
        raise SigningError("the document carries no Ed25519 signature")
    try:
        value = base64.b64decode(str(signature.get("value", "")), validate=True)
        public_key.verify(value, canonical_bytes(document))
    except (ValueError, binascii.Error, InvalidSignature) as exc:
        raise SigningError("the signature does not verify with this public key") from exc
    return dict(document)
