"""Password hashes of `[[smtp.users]]` and `[[http.users]]`: argon2id or scrypt.

Checks are slow by design; callers on the event loop run them in a thread.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_ARGON2 = PasswordHasher()
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**15, 8, 1


def hash_password(password: str, scheme: str = "argon2") -> str:
    if scheme == "argon2":
        return _ARGON2.hash(password)
    if scheme == "scrypt":
        salt = os.urandom(16)
        digest = _scrypt(password, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
        params = f"ln={_SCRYPT_N.bit_length() - 1},r={_SCRYPT_R},p={_SCRYPT_P}"
        return f"$scrypt${params}${_b64(salt)}${_b64(digest)}"
    raise ValueError(f"unknown password scheme {scheme!r} (argon2 or scrypt)")


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time check of a password against an argon2 or scrypt hash."""
    if encoded.startswith("$argon2"):
        try:
            return _ARGON2.verify(encoded, password)
        except (VerificationError, InvalidHashError):
            return False
    if encoded.startswith("$scrypt$"):
        return _verify_scrypt(password, encoded)
    return False


def check_hash_format(encoded: str) -> bool:
    return encoded.startswith(("$argon2", "$scrypt$"))


def _verify_scrypt(password: str, encoded: str) -> bool:
    try:
        _, _, params, salt, digest = encoded.split("$")
        fields = dict(item.split("=") for item in params.split(","))
        expected = _unb64(digest)
        actual = _scrypt(
            password, _unb64(salt), 2 ** int(fields["ln"]), int(fields["r"]), int(fields["p"])
        )
    except (ValueError, KeyError):
        return False
    return hmac.compare_digest(actual, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))
