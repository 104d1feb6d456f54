"""Values of the right type that are out of every range: the admin API and the dashboard.

A time past datetime's years 1 to 9999 (`1000000d` ago, or `9999-12-31T23:59:59-12:00`,
which is in the year 10000 in UTC) raised OverflowError where only ValueError was caught:
a 500 on the API's filters, its `at` fields and a contact's dates, and on the dashboard's
filters. Each is a 400 (the shadow page shows the error beside its default range) and
stores nothing. JSON's `NaN`, `Infinity` and `1e999` (which Python reads as infinity) were
stored in a proof and came back out of the API as JSON no other parser reads: a 400 too.
"""

from __future__ import annotations

from tests.hostile.http import TOKEN, api
from tests.support.ops_pages import client, sign_in

PAST_9999 = "9999-12-31T23:59:59-12:00"
BEFORE_1 = "0001-01-01T00:00:00+12:00"


async def test_a_time_out_of_range_is_a_400(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, http={"admin_token": TOKEN})
    port, ann = gw.http_port, "/contacts/ann@example.com"
    for query in ("since=1000000d", "until=99999999999d", "since=" + "9" * 400 + "s"):
        assert await api(port, "GET", "/decisions?" + query) == 400, query
    assert await api(port, "GET", "/stats?since=1000000d") == 400
    assert await api(port, "GET", "/decisions?since=" + BEFORE_1.replace("+", "%2B")) == 400
    grant = b'{"topic": "news", "proof": {"form": "f"}, "at": "%s"}' % PAST_9999.encode()
    assert await api(port, "POST", ann + "/consents", grant) == 400
    for field, value in (("last_engaged_at", PAST_9999), ("last_purchase_at", BEFORE_1)):
        contact = b'{"customer_kind": "purchase", "%s": "%s"}' % (field.encode(), value.encode())
        assert await api(port, "PUT", ann, contact) == 400, field
    assert await gw.store.contact("ann@example.com") is None


async def test_a_dashboard_filter_out_of_range_is_a_400(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, http={"admin_token": TOKEN})
    base = f"http://127.0.0.1:{gw.http_port}"
    async with client() as http:
        await sign_in(http, base, TOKEN)
        for query in ("since=1000000d", f"until={PAST_9999}"):
            async with http.get(f"{base}/ops/", params=dict([query.split("=")])) as reply:
                assert reply.status == 400, query
        async with http.get(f"{base}/ops/shadow", params={"since": "1000000d"}) as reply:
            assert reply.status == 200 and 'class="error"' in await reply.text()


async def test_json_numbers_that_are_not_numbers_are_a_400(upstream, gateway_factory):
    gw = await gateway_factory(upstream.url, http={"admin_token": TOKEN})
    for number in (b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999"):
        grant = b'{"topic": "news", "proof": {"form": "f", "score": %s}}' % number
        status = await api(gw.http_port, "POST", "/contacts/ann@example.com/consents", grant)
        assert status == 400, number
    assert await gw.store.contact("ann@example.com") is None
