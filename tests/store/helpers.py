"""Records the store tests build: spooled messages, decisions, updates, contact rows."""

from __future__ import annotations

from typing import Any

from gateway.store import Store
from gateway.store.records import (
    ContactRow,
    Decision,
    RecipientUpdate,
    SpoolMessage,
    SpoolRecipient,
)


def message(
    mid: str,
    *addresses: str,
    due: float = 100.0,
    data: bytes = b"body\r\n",
    received_at: float = 1.0,
) -> SpoolMessage:
    return SpoolMessage(
        id=mid,
        received_at=received_at,
        sender="app@example.com",
        data=data,
        recipients=[SpoolRecipient(a, next_attempt=due) for a in addresses],
        message_id=f"<{mid}@example.com>",
        session_id="s1",
        client="127.0.0.1",
        auth_user="billing",
        purpose="transactional",
        topic="receipts",
    )


def decision(n: int, **fields: str) -> Decision:
    values: dict[str, Any] = {
        "time": f"2024-01-01T00:00:{n:02d}.000Z",
        "phase": "rcpt",
        "action": "allow",
        "recipient": f"r{n}@example.org",
        "basis": "consent",
        "purpose": "marketing",
        "jurisdiction": "eu",
        "sender": "app@example.com",
        "message_id": f"m{n}@example.com",
        "queue_id": f"q{n}",
    }
    values.update(fields)
    return Decision(**values)


def update(
    mid: str,
    address: str,
    status: str,
    attempts: int = 1,
    next_attempt: float = 500.0,
    reply: str = "",
) -> RecipientUpdate:
    return RecipientUpdate(mid, address, status, attempts, next_attempt, reply)


def row(line: int, address: str, **fields: Any) -> ContactRow:
    return ContactRow(line=line, address=address, original=address.upper(), **fields)


async def claimed(
    store: Store, now: float, lease: float = 50.0, limit: int = 100
) -> dict[str, list[str]]:
    return {
        m.id: sorted(r.address for r in m.recipients)
        for m in await store.spool_claim(now, lease, limit)
    }


CONTACTS = [
    row(
        2,
        "ann@example.org",
        country="CZ",
        source="signup-form",
        consent_topics=("newsletter", "marketing"),
        consent_at="2024-01-01T10:00:00Z",
        double_opt_in_at="2024-01-01T10:05:00Z",
        consent_proof='{"ip": "192.0.2.1"}',
        last_engaged_at="2024-03-01T00:00:00Z",
    ),
    row(
        3,
        "bob@example.org",
        country="PL",
        customer_kind="purchase",
        last_purchase_at="2024-02-01T00:00:00Z",
        purchase_categories=("books", "music"),
        objected_scopes=("survey",),
    ),
]
