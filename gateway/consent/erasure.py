"""Erasure (GDPR art. 17): an erased address lives on only as a keyed hash that keeps it
suppressed, so it can never be mailed or re-imported by mistake."""

from __future__ import annotations

import secrets

from gateway.config import Config
from gateway.store import Store


async def erasure_key(store: Store, config: Config) -> bytes:
    if config.retention.erasure_key:
        return config.retention.erasure_key.encode()
    return await stored_erasure_key(store)


async def stored_erasure_key(store: Store) -> bytes:
    """The key generated once and kept in the store, for when the config names none."""
    return (await store.meta("erasure_key", secrets.token_hex(32))).encode()
