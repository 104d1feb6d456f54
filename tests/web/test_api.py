"""Admin API through real HTTP and real SMTP: consent round trip, paging, erasure."""

from __future__ import annotations

import asyncio
import smtplib
import sqlite3
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.messages import MARKETING
from tests.support.waiting import wait_until

TOKEN = "test-admin-token-0123456789"
ADDRESS = "Ann.Person@Example.com"
CANONICAL = "ann.person@example.com"
PROOF = {"ip": "192.0.2.7", "user_agent": "Firefox", "form": "signup/3", "text": "Send me news"}


class Api:
    def __init__(self, session: aiohttp.ClientSession, port: int) -> None:
        self.session, self.base = session, f"http://127.0.0.1:{port}/api/v1"

    async def call(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {TOKEN}", **kwargs.pop("headers", {})}
        async with self.session.request(
            method, self.base + path, headers=headers, **kwargs
        ) as reply:
            body = await reply.json()
            assert reply.status == status, body
            assert reply.content_type == "application/json"
            return body


@pytest.fixture
async def gw(gateway_factory: Any, upstream: Any) -> Any:
    return await gateway_factory(upstream.url, http={"admin_token": TOKEN})


@pytest.fixture
async def api(gw: Any) -> Any:
    async with aiohttp.ClientSession() as session:
        yield Api(session, gw.http_port)


def send(port: int, recipient: str) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port) as client:
        try:
            client.sendmail("news@shop.example", [recipient], MARKETING)
        except smtplib.SMTPDataError as exc:
            code, text = exc.smtp_code, exc.smtp_error
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = exc.recipients[recipient]
        else:
            return 250, b""
    return code, text if isinstance(text, bytes) else text.encode()


async def test_without_token_401_and_errors_are_json(api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        async with api.session.get(api.base + "/decisions", headers=headers) as reply:
            assert reply.status == 401
            assert "error" in await reply.json()
    await api.call("GET", "/nowhere", 404)
    await api.call("PATCH", "/suppressions", 405)
    await api.call(
        "POST",
        "/suppressions",
        415,
        data="email=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    await api.call(
        "POST", "/suppressions", 400, data="{", headers={"Content-Type": "application/json"}
    )
    await api.call("POST", "/suppressions", 413, json={"email": "x" * 70_000})
    await api.call("GET", "/contacts/nobody@example.com", 404)
    await api.call("GET", "/contacts/not-an-address", 400)


async def test_bad_filters_answer_400_not_500(api: Api) -> None:
    for path, params in (
        ("/decisions", {"since": "soon"}),
        ("/decisions", {"until": "x"}),
        ("/stats", {"since": "soon"}),
        ("/decisions", {"colour": "blue"}),
        ("/decisions", {"order": "sideways"}),
        ("/decisions", {"cursor": "x"}),
        ("/decisions", {"limit": "0"}),
    ):
        await api.call("GET", path, 400, params=params)
    assert (await api.call("GET", "/stats", 200, params={"since": "2025"}))["since"] == (
        "2025-01-01T00:00:00.000Z"
    )


async def test_disabled_without_admin_token(gateway_factory: Any, upstream: Any) -> None:
    gw = await gateway_factory(upstream.url)
    async with aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{gw.http_port}/api/v1/decisions"
        async with session.get(url, headers={"Authorization": "Bearer "}) as reply:
            assert reply.status == 503
            assert "http.admin_token" in (await reply.json())["error"]


async def test_consent_round_trip_through_smtp(gw: Any, api: Api) -> None:
    contact = await api.call(
        "PUT", f"/contacts/{ADDRESS}", 201, json={"country": "IE", "source": "signup-form"}
    )
    assert (contact["address"], contact["country"]) == (CANONICAL, "ie")
    await api.call("PUT", f"/contacts/{ADDRESS}", 200, json={"last_engaged_at": "2026-01-02"})
    await api.call("PUT", f"/contacts/{ADDRESS}", 400, json={"colour": "blue"})
    await api.call("POST", f"/contacts/{ADDRESS}/consents", 400, json={"topic": "newsletter"})
    granted = await api.call(
        "POST", f"/contacts/{ADDRESS}/consents", 201, json={"topic": "newsletter", "proof": PROOF}
    )
    assert [c["topic"] for c in granted["consents"]] == ["newsletter"]
    await api.call("POST", f"/contacts/{ADDRESS}/consents/newsletter/confirm", 200)

    sent = await asyncio.to_thread(send, gw.smtp_port, ADDRESS)
    assert sent == (250, b""), sent[1].decode()
    await api.call(
        "POST",
        f"/contacts/{ADDRESS}/consents/newsletter/withdraw",
        200,
        json={"source": "support-ticket"},
    )
    await api.call("POST", f"/contacts/{ADDRESS}/consents/newsletter/withdraw", 409)
    code, text = await asyncio.to_thread(send, gw.smtp_port, ADDRESS)
    assert code == 550 and b"consent-withdrawn" in text

    proof = await api.call("GET", f"/contacts/{ADDRESS}/proof", 200)
    assert [e["kind"] for e in proof["history"]] == ["grant", "confirm", "withdraw"]
    assert '"Send me news"' in proof["history"][0]["proof"]

    await gw.writer.flush()
    seen, pages = await all_pages(api, {"recipient": ADDRESS, "phase": "data", "limit": "1"})
    assert pages == 2
    assert [(d["action"], d["basis"] or d["reason"]) for d in seen] == [
        ("deny", "consent-withdrawn"),
        ("allow", "consent"),
    ]
    assert set(seen[0]) == {
        "id",
        "time",
        "instance",
        "session_id",
        "message_id",
        "client",
        "auth_user",
        "sender",
        "recipient",
        "purpose",
        "topic",
        "jurisdiction",
        "phase",
        "action",
        "basis",
        "reason",
        "rule",
        "cite",
    }
    stats = await api.call("GET", "/stats", 200)
    assert stats["decisions"]["reason"]["consent-withdrawn"] == 1


async def all_pages(api: Api, params: dict[str, str]) -> tuple[list[Any], int]:
    """Every decision the filters match, following next_cursor; and the pages it took."""
    seen: list[Any] = []
    cursor = None
    for pages in range(1, 100):
        page = await api.call(
            "GET", "/decisions", 200, params={**params, **({"cursor": cursor} if cursor else {})}
        )
        seen += page["decisions"]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen, pages
    raise AssertionError("next_cursor never ran out")


async def test_suppressions_add_list_remove(api: Api) -> None:
    body = {"email": "Bob@Example.org", "scope": "newsletter", "reason": "complaint"}
    await api.call("POST", "/suppressions", 201, json=body)
    await api.call("POST", "/suppressions", 200, json=body)
    await api.call("POST", "/suppressions", 400, json={**body, "reason": "erased"})
    await api.call("POST", "/suppressions", 201, json={"email": "carl@example.org"})
    first = await api.call("GET", "/suppressions", 200, params={"limit": "1"})
    assert [s["email"] for s in first["suppressions"]] == ["bob@example.org"]
    rest = await api.call("GET", "/suppressions", 200, params={"cursor": first["next_cursor"]})
    assert [(s["email"], s["scope"]) for s in rest["suppressions"]] == [("carl@example.org", "all")]
    removed = await api.call(
        "DELETE", "/suppressions/bob@example.org", 200, params={"scope": "newsletter"}
    )
    assert removed["removed"] == 1
    await api.call("DELETE", "/suppressions/bob@example.org", 404)


async def test_forget_leaves_no_address_in_clear(
    gw: Any, api: Api, upstream: Any, tmp_path: Path
) -> None:
    await forget_after_delivery(gw, api, upstream, CANONICAL)
    assert holders(tmp_path / "gatekeeper.db", CANONICAL) == []
    code, text = await asyncio.to_thread(send, gw.smtp_port, ADDRESS)
    assert code == 550 and b"erased" in text
    await gw.writer.flush()
    assert holders(tmp_path / "gatekeeper.db", CANONICAL) == []  # the refusal names the hash
    await api.call("PUT", f"/contacts/{ADDRESS}", 409, json={"country": "ie"})
    await api.call(
        "POST", f"/contacts/{ADDRESS}/consents", 409, json={"topic": "newsletter", "proof": PROOF}
    )
    await api.call("GET", f"/contacts/{ADDRESS}/proof", 404)


async def test_forget_covers_delivery_rows_of_a_mixed_case_address(
    gw: Any, api: Api, upstream: Any, tmp_path: Path
) -> None:
    await forget_after_delivery(gw, api, upstream, ADDRESS)
    assert holders(tmp_path / "gatekeeper.db", CANONICAL) == []


async def forget_after_delivery(gw: Any, api: Api, upstream: Any, sent_to: str) -> None:
    await api.call("PUT", f"/contacts/{ADDRESS}", 201, json={"country": "ie"})
    await api.call(
        "POST", f"/contacts/{ADDRESS}/consents", 201, json={"topic": "newsletter", "proof": PROOF}
    )
    sent = await asyncio.to_thread(send, gw.smtp_port, sent_to)
    assert sent == (250, b""), sent[1].decode()
    await asyncio.to_thread(upstream.handler.wait_for, 1)
    await wait_until(lambda: gw.delivery.backlog == 0)
    await gw.writer.flush()
    erased = await api.call("DELETE", f"/contacts/{ADDRESS}", 200)
    assert erased["suppressed_as"].startswith("erased:")


def holders(path: Path, address: str) -> list[str]:
    """Every table.column whose text or bytes contain the address, case-insensitively."""
    found = []
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
            for column in columns:
                for (value,) in db.execute(f"SELECT {column} FROM {table}"):
                    text = (
                        value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                    )
                    if address in text.lower():
                        found.append(f"{table}.{column}")
    return sorted(set(found))


async def test_openapi_document(api: Api) -> None:
    async with api.session.get(api.base + "/openapi.json") as reply:
        assert reply.status == 200
        document = await reply.json()
    assert document["openapi"].startswith("3.")
    assert {
        "/contacts/{email}",
        "/contacts/{email}/proof",
        "/contacts/{email}/consents",
        "/contacts/{email}/consents/{topic}/confirm",
        "/contacts/{email}/consents/{topic}/withdraw",
        "/suppressions",
        "/suppressions/{email}",
        "/decisions",
        "/stats",
    } <= set(document["paths"])
    assert set(document["paths"]["/contacts/{email}"]) >= {"get", "put", "delete"}
