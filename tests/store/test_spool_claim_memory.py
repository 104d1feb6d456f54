"""A large message claimed from the SQLite spool is read by blob I/O into the one `bytes` it
is kept as (issue 11): fetched whole, SQLite assembled the value in a buffer of its own and
Python copied it, twice the message. SQLite's buffers are no Python allocations, so this is
the process's RSS (VmHWM reset by Linux `clear_refs` before the claim)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.store import open_store
from gateway.store.records import WriteBatch
from tests.store.helpers import message

SIZE = 16 * 1024 * 1024


def status_bytes(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


async def test_a_large_claimed_message_is_read_once(tmp_path: Path):
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    await store.open()
    try:
        spooled = message("m1", "a@example.org", data=b"Subject: big\r\n\r\n" + b"x" * SIZE)
        spooled.head = b"Received: from t ([127.0.0.1])\r\n"
        expected = len(spooled.head) + len(spooled.data)
        await store.commit(WriteBatch(messages=[spooled]))
        del spooled  # only the spool holds it now
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError as exc:
            pytest.skip(f"VmHWM cannot be reset here: {exc}")
        base = status_bytes("VmRSS")
        [claimed] = await store.spool_claim(100.0, 50.0, 10)
        peak = status_bytes("VmHWM") - base
    finally:
        await store.close()
    assert len(claimed.data) == expected
    assert claimed.data.startswith(b"Received: from t") and claimed.data.endswith(b"x" * 100)
    assert peak < 1.5 * SIZE, f"claim peak +{peak / SIZE:.2f} x the message"
