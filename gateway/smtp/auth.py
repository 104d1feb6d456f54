"""SMTP AUTH credentials: argon2id or scrypt password hashes from `[[smtp.users]]`.

Hash checks are slow by design, so they run in a thread, never on the event loop; a
verified password is remembered as a keyed digest so that an app opening a connection per
message does not pay the slow hash each time.
"""

from __future__ import annotations

import asyncio
import hmac
import os
from collections.abc import Sequence

from gateway.config import SmtpUser
from gateway.passwords import hash_password, verify_password


class Authenticator:
    def __init__(self, users: Sequence[SmtpUser]) -> None:
        self._users = {user.name: user for user in users}
        self._key = os.urandom(32)
        self._verified: dict[str, bytes] = {}
        # Checked for unknown names too, so a reply's timing does not tell which names exist.
        self._decoy = hash_password(os.urandom(8).hex())

    async def verify(self, name: str, password: str) -> SmtpUser | None:
        user = self._users.get(name)
        token = hmac.digest(self._key, f"{name}\0{password}".encode(), "sha256")
        remembered = self._verified.get(name)
        if user is not None and remembered is not None and hmac.compare_digest(remembered, token):
            return user
        encoded = user.password_hash if user is not None else self._decoy
        ok = await asyncio.to_thread(verify_password, password, encoded)
        if not ok or user is None:
            return None
        self._verified[name] = token
        return user
