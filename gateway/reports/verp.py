"""VERP envelope senders and the per-recipient reference header: signed, opaque, compact.

Both carry the same payload, naming one recipient of one queued message:

    payload = version (1 byte) | queue id (10 bytes: the 20 hex digits of store.new_id)
              | recipient tag (5 bytes: HMAC-SHA256(key, "rcpt" || canonical recipient))
    token   = base32(payload || HMAC-SHA256(key, CONTEXT || payload)[:10]), lower case

The recipient is named by a keyed digest, not spelled out: the token fits the 64-octet local
part whatever the address (RFC 5321 §4.5.3.1.1), reveals nothing to whoever sees it, and the
reader finds the recipient among the queue id's recipients (`Claims.names`). Base32 because
remote MTAs may change the case of a local part they return. VERP and reference tokens are
signed under different contexts, so neither can be passed off as the other.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

_VERSION: Final = 1
_QUEUE_ID_LEN: Final = 10
_TAG_LEN: Final = 5  # 40 bits: a collision among one message's recipients is ~2^-40 a pair
_MAC_LEN: Final = 10  # 80 bits: forging one needs ~2^80 tries against a live listener
_RAW_LEN: Final = 1 + _QUEUE_ID_LEN + _TAG_LEN + _MAC_LEN
_VERP_CONTEXT: Final = b"gatekeeper/verp\x00"
_REF_CONTEXT: Final = b"gatekeeper/ref\x00"
_TAG_CONTEXT: Final = b"gatekeeper/rcpt\x00"
VERP_PREFIX: Final = "b+"
LOCAL_PART_MAX: Final = 64  # RFC 5321 §4.5.3.1.1


class VerpError(ValueError):
    """Not a token this gateway issued under any of the keys given; the message says why."""


@dataclass(frozen=True, slots=True)
class Claims:
    """What a valid token names: a queue id and a keyed digest of one of its recipients."""

    queue_id: str
    tag: bytes

    def names(self, key: bytes, recipient: str) -> bool:
        """Whether `recipient` (canonical) is the one the token names; constant time."""
        return hmac.compare_digest(self.tag, _tag(key, recipient))


def verp_address(key: bytes, queue_id: str, recipient: str, domain: str) -> str:
    """The envelope sender `b+TOKEN@domain` for one recipient of one queued message."""
    return f"{VERP_PREFIX}{_issue(key, _VERP_CONTEXT, queue_id, recipient)}@{domain}"


def read_verp(keys: Sequence[bytes], address: str) -> tuple[Claims, bytes]:
    """The claims of a VERP address and the key that signed it (keys: newest first)."""
    local = address.rpartition("@")[0] if "@" in address else address
    if local[: len(VERP_PREFIX)].lower() != VERP_PREFIX:
        raise VerpError(f"not a VERP address: the local part does not start {VERP_PREFIX!r}")
    return _verify(keys, _VERP_CONTEXT, local[len(VERP_PREFIX) :])


def reference(key: bytes, queue_id: str, recipient: str) -> str:
    """The X-Gatekeeper-Ref value for one recipient's copy of a message."""
    return _issue(key, _REF_CONTEXT, queue_id, recipient)


def read_reference(keys: Sequence[bytes], value: str) -> tuple[Claims, bytes]:
    """The claims of a reference header value and the key that signed it."""
    return _verify(keys, _REF_CONTEXT, value.strip())


def _issue(key: bytes, context: bytes, queue_id: str, recipient: str) -> str:
    try:
        queue = bytes.fromhex(queue_id)
    except ValueError:
        raise VerpError(f"queue id {queue_id!r} is not hexadecimal") from None
    if len(queue) != _QUEUE_ID_LEN:
        raise VerpError(f"queue id {queue_id!r} is not {2 * _QUEUE_ID_LEN} hex digits")
    payload = bytes([_VERSION]) + queue + _tag(key, recipient)
    raw = payload + _mac(key, context, payload)
    return base64.b32encode(raw).decode("ascii").rstrip("=").lower()


def _verify(keys: Sequence[bytes], context: bytes, token: str) -> tuple[Claims, bytes]:
    if len(token) > LOCAL_PART_MAX:
        raise VerpError("token too long")
    padded = token.upper() + "=" * (-len(token) % 8)
    try:
        raw = base64.b32decode(padded)
    except (binascii.Error, ValueError):
        raise VerpError("token is not base32") from None
    if len(raw) != _RAW_LEN or raw[0] != _VERSION:
        raise VerpError("token has the wrong length or version")
    payload, mac = raw[:-_MAC_LEN], raw[-_MAC_LEN:]
    for key in keys:
        if hmac.compare_digest(mac, _mac(key, context, payload)):
            claims = Claims(queue_id=payload[1 : 1 + _QUEUE_ID_LEN].hex(), tag=payload[-_TAG_LEN:])
            return claims, key
    raise VerpError("token signature does not verify")


def _mac(key: bytes, context: bytes, payload: bytes) -> bytes:
    return hmac.new(key, context + payload, hashlib.sha256).digest()[:_MAC_LEN]


def _tag(key: bytes, recipient: str) -> bytes:
    digest = hmac.new(key, _TAG_CONTEXT + recipient.encode("utf-8"), hashlib.sha256).digest()
    return digest[:_TAG_LEN]
