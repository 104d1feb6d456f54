"""/ops/events over real HTTP (docs/ops.md): the events outbox as the store holds it, in
keyset pages, and Retry buttons that make events due as `gatekeeper events retry` does."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from gateway.store.records import OutboundEvent, WriteBatch
from gateway.web.ops_events import PAGE_SIZE
from tests.support.ops_pages import TOKEN, client, csrf_of, sign_in

ENDPOINT = "http://127.0.0.1:9/events?app=1&x=<y>"
LATER = 4_000_000_000.0  # 2096: never due by itself while the test runs


def outbox(count: int) -> list[OutboundEvent]:
    """`count` events a second apart: the newest pending, the one before failed, the rest
    delivered."""
    start = datetime(2030, 1, 1, tzinfo=UTC)
    newest = {count - 1: "pending", count - 2: "failed"}
    events = []
    for i in range(count):
        status = newest.get(i, "delivered")
        events.append(
            OutboundEvent(
                f"msg_{i:04d}",
                (start + timedelta(seconds=i)).isoformat(timespec="milliseconds")[:-6] + "Z",
                ENDPOINT,
                "refused",
                "{}",
                status=status,
                attempts=i % 7,
                next_attempt=LATER,
                last_error="" if status == "delivered" else f"HTTP 503 busy {i}",
                delivered_at="2030-01-02T00:00:00.000Z" if status == "delivered" else "",
            )
        )
    return events


async def test_pages_buttons_and_csrf(gateway_factory: Any, upstream: Any) -> None:
    gw = await gateway_factory(upstream.url, http={"admin_token": TOKEN})  # no webhooks: no
    # dispatcher, so what the buttons do stays in the store to be read
    await gw.store.commit(WriteBatch(events=outbox(PAGE_SIZE + 5)))
    base = f"http://127.0.0.1:{gw.http_port}"
    async with client() as http:
        for method, path in (("GET", "/ops/events"), ("POST", "/ops/events/retry")):
            async with http.request(method, f"{base}{path}", allow_redirects=False) as reply:
                assert reply.status == 303
                assert reply.headers["Location"].startswith("/ops/login")

        await sign_in(http, base)
        async with http.get(f"{base}/ops/events") as reply:
            assert reply.status == 200
            first = await reply.text()
        newest = (await gw.store.events_list(limit=1))[0]
        assert newest.id == f"msg_{PAGE_SIZE + 4:04d}" and newest.status == "pending"
        assert (
            f"<tr><td>{newest.created_at}</td><td>refused</td><td>{escape(ENDPOINT)}</td>"
            f"<td>pending</td><td>{newest.attempts}</td><td>2096-"
        ) in first
        assert f"<td>{newest.last_error}</td>" in first
        assert first.count("<tr><td>2030-") == PAGE_SIZE
        assert first.count('aria-label="Retry event ') == 2  # the pending and the failed one

        older = first.split('<nav class="paging"')[1].split('href="')[1].split('"')[0]
        async with http.get(f"{base}{older.replace('&amp;', '&')}") as reply:
            second = await reply.text()
        assert second.count("<tr><td>2030-") == 5 and "msg_0000" not in first
        assert "Older" not in second and "Newest" in second
        async with http.get(f"{base}/ops/events?status=failed") as reply:
            assert (await reply.text()).count("<tr><td>2030-") == 1

        csrf = csrf_of(first)
        forged = {"csrf": "f" * 64, "id": newest.id}
        async with http.post(f"{base}/ops/events/retry", data=forged) as reply:
            assert reply.status == 403
        assert (await gw.store.events_list("pending"))[0].next_attempt == LATER

        before = time.time()
        async with http.post(
            f"{base}/ops/events/retry", data={"csrf": csrf, "id": newest.id}
        ) as reply:
            assert reply.status == 200 and "1 event(s) due now" in await reply.text()
        (pending,) = await gw.store.events_list("pending")
        assert pending.id == newest.id and pending.next_attempt <= time.time()
        assert pending.next_attempt >= before
        assert len(await gw.store.events_list("failed")) == 1

        async with http.post(f"{base}/ops/events/retry", data={"csrf": csrf}) as reply:
            assert "2 event(s) due now" in await reply.text()
        assert await gw.store.events_list("failed") == []
        due = await gw.store.events_list("pending")
        assert len(due) == 2 and all(e.next_attempt <= time.time() for e in due)
        assert len(await gw.store.events_list("delivered", limit=1000)) == PAGE_SIZE + 3


async def test_bad_cursor_and_status_are_pages(gateway_factory: Any, upstream: Any) -> None:
    gw = await gateway_factory(upstream.url, http={"admin_token": TOKEN})
    base = f"http://127.0.0.1:{gw.http_port}"
    async with client() as http:
        await sign_in(http, base)
        async with http.get(f"{base}/ops/events?before=%%%") as reply:
            assert reply.status == 400 and "previous page" in await reply.text()
        async with http.get(f"{base}/ops/events?status=lost") as reply:
            assert reply.status == 400
        async with http.get(f"{base}/ops/events") as reply:
            assert "No events." in await reply.text()
