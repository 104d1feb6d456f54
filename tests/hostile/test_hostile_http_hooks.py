"""Provider webhooks (gateway/web/hooks_*.py) fed what no provider sends.

Credentials that are not base64 ASCII reached code that assumed the provider's shape and
were a 500 (a provider retries those for days); they are now refused (401) and change
nothing.
"""

from __future__ import annotations

import json

from tests.hostile.test_hostile_http_text import raw_request
from tests.support.hooks import payload

USER, PASSWORD = "postmark", "correct horse battery staple"
JSON = b"Content-Type: application/json\r\n"


async def test_basic_auth_that_is_not_ascii_is_a_401(upstream, gateway_factory):
    """base64.b64decode raises a plain ValueError for text that is not ASCII."""
    gw = await gateway_factory(
        upstream.url, hooks={"postmark_username": USER, "postmark_password": PASSWORD}
    )
    bounce = json.dumps(payload("postmark_bounce.json")).encode()
    for credentials in (b"\xc3\xa9t\xc3\xa9", b"\xff\xfe"):  # UTF-8 text, and not UTF-8
        header = b"Authorization: Basic " + credentials + b"\r\n" + JSON
        assert await raw_request(gw.http_port, "POST", "/hooks/postmark", header, bounce) == 401
    assert await gw.store.suppressions("john@example.com") == []
