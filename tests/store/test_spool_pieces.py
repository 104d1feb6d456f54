"""The spool keeps a message's head (trace fields) and data as one value; a large one is
written in pieces (SQLite blob I/O, issue 11) and reads back the same on both engines."""

from __future__ import annotations

import pytest

from gateway.store import Store
from gateway.store.records import WriteBatch
from tests.store.helpers import message


@pytest.mark.parametrize("size", [10, 300 * 1024])  # below and above SQLite's PIECES_FROM
async def test_head_and_data_are_stored_as_one_message(store: Store, size: int) -> None:
    data = b"Subject: big\r\n\r\n" + b"\x00\xff" * (size // 2)
    small = message("m0", "b@example.org", data=b"small\r\n")
    spooled = message("m1", "a@example.org", data=data)
    spooled.head = b"Received: from t ([127.0.0.1])\r\n"
    await store.commit(WriteBatch(messages=[small, spooled]))
    got = {m.id: m for m in await store.spool_claim(100.0, 50.0, 10)}
    assert got["m1"].head == b"" and got["m1"].data == spooled.head + data
    assert got["m0"].data == b"small\r\n"
