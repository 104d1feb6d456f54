"""The complaint-rate brake's store side, on both engines: counts per sender of delivered
non-transactional mail and complaints, and pausing and resuming a sender domain."""

from __future__ import annotations

from gateway.store.records import Decision, WriteBatch


def row(phase: str, reason: str, sender: str, purpose: str = "marketing") -> Decision:
    return Decision(
        time="2026-06-01T12:00:00.000Z",
        phase=phase,
        action="allow" if phase == "delivery" else "note",
        recipient="p@example.com",
        sender=sender,
        purpose=purpose,
        reason=reason,
    )


async def test_sender_counts_leave_out_transactional_mail_and_older_rows(store) -> None:
    await store.commit(
        WriteBatch(
            decisions=[
                row("delivery", "delivered", "news@shop.example"),
                row("delivery", "delivered", "news@shop.example"),
                row("delivery", "delivered", "receipts@shop.example", "transactional"),
                row("delivery", "deferred", "news@shop.example"),
                row("report", "complaint", "news@shop.example"),
                row("report", "sender-side", "news@shop.example"),
                row("report", "hard-bounce", "news@shop.example"),
            ]
        )
    )
    counts = sorted(await store.sender_counts("2026-06-01T00:00:00.000Z"))
    assert counts == [
        ("news@shop.example", "complaint", 1),
        ("news@shop.example", "delivered", 2),
        ("news@shop.example", "sender-side", 1),
    ]
    assert await store.sender_counts("2026-06-02T00:00:00.000Z") == []


async def test_pause_and_resume_a_sender_domain(store) -> None:
    assert await store.pause_sender("shop.example", "2026-06-01T12:00:00.000Z", "{}")
    assert not await store.pause_sender("shop.example", "2026-06-01T12:01:00.000Z", "{}")
    assert await store.resume_sender("shop.example", "2026-06-01T13:00:00.000Z")
    assert not await store.resume_sender("shop.example", "2026-06-01T13:01:00.000Z")
    (pause,) = await store.sender_pauses()
    assert (pause.paused_at, pause.resumed_at) == (
        "2026-06-01T12:00:00.000Z",
        "2026-06-01T13:00:00.000Z",
    )
    assert await store.pause_sender("shop.example", "2026-06-02T00:00:00.000Z", '{"rate": 1}')
    (pause,) = await store.sender_pauses()
    assert (pause.paused_at, pause.resumed_at, pause.detail) == (
        "2026-06-02T00:00:00.000Z",
        "",
        '{"rate": 1}',
    )
