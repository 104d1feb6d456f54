"""Getting mail again from an unsubscribe link is a double opt-in (issue 11): a forwarded
link lets a stranger ask, but only the click on the link mailed to the address records the
consent, with that click's proof. Real gateway, real upstream, real HTTP."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default
from typing import Any

import aiohttp
import pytest

from gateway.consent import tokens
from tests.support.seed import seed_contact
from tests.support.unsubscribe import ADDRESS, SECRET, Site, assert_secure_headers, csrf, token_for
from tests.support.waiting import settled

STRANGER = {"User-Agent": "Stranger/1.0"}
RECIPIENT = {"User-Agent": "Recipient/2.0"}


@pytest.fixture
async def site(gateway_factory: Any, upstream: Any) -> AsyncIterator[tuple[Site, Any]]:
    gw = await gateway_factory(
        upstream.url, unsubscribe={"secret": [SECRET]}, identity={"name": "Example Shop"}
    )
    await seed_contact(gw.store, ADDRESS, "newsletter", "offers")
    async with aiohttp.ClientSession(headers=STRANGER) as http:
        yield Site(gw, http), upstream


async def ask_again(site: Site, scope: str = "offers") -> str:
    """Leave `scope`, then ask for it again from the same (forwarded) link."""
    token = token_for("newsletter")
    page = (await site.get(token))[1]
    _, text, _ = await site.post(
        token, {"action": "leave", "scope": scope, "csrf": csrf(page, "leave")}
    )
    _, text, _ = await site.post(
        token, {"action": "resubscribe", "scope": scope, "csrf": csrf(text, "resubscribe")}
    )
    return text


def confirmation_link(upstream: Any) -> str:
    [mail] = upstream.handler.wait_for(1)
    assert mail.recipients == [ADDRESS] and mail.sender in ("", "<>")  # the null sender
    parsed = message_from_bytes(mail.data, policy=default)
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert "Example Shop" in parsed["Subject"]
    found = re.search(r"http://\S+/u/confirm/\S+", parsed.get_content())
    assert found, parsed.get_content()
    return found.group(0)


async def test_a_forwarded_link_cannot_resubscribe_without_the_address(site: Any) -> None:
    site, upstream = site
    text = await ask_again(site)
    assert f"We sent an email to {ADDRESS}" in text
    assert {(s.scope, s.reason) for s in await site.gw.store.suppressions(ADDRESS)} == {
        ("offers", "unsubscribed")
    }
    view = await site.gw.store.contact(ADDRESS)
    [request] = [e for e in view.events if e.kind == "resubscribe-request"]
    assert json.loads(request.proof)["user_agent"] == "Stranger/1.0"
    assert not [e for e in view.events if e.kind == "resubscribe"]
    link = await asyncio.to_thread(confirmation_link, upstream)
    # the test's public_url has no port: the path, on the gateway's real one
    link = f"http://127.0.0.1:{site.gw.http_port}" + link.removeprefix("http://127.0.0.1")

    async with aiohttp.ClientSession(headers=RECIPIENT) as recipient:
        async with recipient.get(link) as reply:  # opening the link changes nothing
            page = await reply.text()
            assert reply.status == 200
            assert_secure_headers(reply.headers)
        assert "Yes, send me these emails again" in page and ADDRESS in page
        assert await site.gw.store.suppressions(ADDRESS)
        value = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        assert value is not None
        async with recipient.post(link, data={"csrf": value.group(1)}) as reply:
            done = await reply.text()
            assert reply.status == 200
    assert "will get emails about “offers” from Example Shop again" in done
    assert await site.gw.store.suppressions(ADDRESS) == []
    view = await site.gw.store.contact(ADDRESS)
    consented = [e for e in view.events if e.kind in ("resubscribe", "confirm")]
    assert [(e.kind, e.topic, e.source) for e in consented] == [
        ("resubscribe", "offers", "confirmation-link"),
        ("confirm", "offers", "confirmation-link"),
    ]
    evidence = json.loads(consented[0].proof)
    assert evidence["user_agent"] == "Recipient/2.0" and evidence["ip"] == "127.0.0.1"
    assert {"time", "requested_at", "form", "text", "lang"} <= evidence.keys()
    consent = next(c for c in view.consents if c["topic"] == "offers")
    assert consent["withdrawn_at"] is None and consent["double_opt_in_at"] is not None


async def test_one_confirmation_mail_per_address_for_a_while(site: Any) -> None:
    site, upstream = site
    await ask_again(site)
    token = token_for("newsletter")
    page = (await site.get(token))[1]
    _, text, _ = await site.post(
        token, {"action": "resubscribe", "scope": "offers", "csrf": csrf(page, "resubscribe")}
    )
    assert "a few minutes ago" in text
    await asyncio.to_thread(upstream.handler.wait_for, 1)
    assert await settled(site.gw) == []  # nothing else is on its way
    assert len(upstream.handler.messages) == 1


async def test_tokens_of_one_kind_do_not_work_as_the_other(site: Any) -> None:
    site, _ = site
    now = datetime.now(UTC)
    confirm = tokens.issue(
        [SECRET.encode()], ADDRESS, "offers", now, context=tokens.CONFIRM_CONTEXT
    )
    base = f"http://127.0.0.1:{site.gw.http_port}"
    async with site.http.get(f"{base}/u/confirm/{token_for('offers')}") as reply:
        assert reply.status == 400  # an unsubscribe link cannot confirm
    status, _, _ = await site.get(confirm)
    assert status == 400  # a confirmation link cannot unsubscribe
    old = tokens.issue(
        [SECRET.encode()],
        ADDRESS,
        "offers",
        now - timedelta(days=3),
        context=tokens.CONFIRM_CONTEXT,
    )
    async with site.http.get(f"{base}/u/confirm/{old}") as reply:
        assert reply.status == 410
        assert "confirmation link has expired" in await reply.text()


async def test_unsubscribing_needs_no_confirmation(site: Any) -> None:
    site, _ = site
    token = token_for("newsletter")
    page = (await site.get(token))[1]
    status, _, _ = await site.post(
        token, {"action": "leave", "scope": "all", "csrf": csrf(page, "leave")}
    )
    assert status == 200
    assert [(s.scope, s.reason) for s in await site.gw.store.suppressions(ADDRESS)] == [
        ("all", "unsubscribed")
    ]
    await site.gw.writer.flush()
    assert [e for e in await site.gw.store.spool_list() if e.recipient == ADDRESS] == []
