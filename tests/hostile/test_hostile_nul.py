"""NUL bytes in a message (RFC 5322 §2.2/§3.5 forbid them; issue 11 wants `550 5.6.0`).

A NUL-dropping downstream turns `\\r\\n\\x00.\\r\\n` into an end of data, so a relay that passes
NUL on hands a smuggling primitive to the next hop.
"""

from __future__ import annotations

import pytest

from tests.hostile.wire import NORMAL, send_message

NUL_MESSAGES = {
    "header-value": NORMAL.replace(b"Subject: Your receipt", b"Subject: Your\x00receipt"),
    "header-name": NORMAL.replace(b"Subject:", b"Sub\x00ject:"),
    "body": NORMAL + b"amount: 10\x00 EUR\r\n",
    "body-line-start": NORMAL + b"\x00.\r\nMAIL FROM:<evil@example.com>\r\n",
    "body-only-nul": NORMAL + b"\x00\x00\x00\r\n",
}


@pytest.mark.parametrize("message", NUL_MESSAGES.values(), ids=NUL_MESSAGES.keys())
async def test_nul_is_refused_550_5_6_0(upstream, gateway_factory, message):
    gw = await gateway_factory(upstream.url)
    reply = await send_message(gw.smtp_port, message, "app@example.com", "nul@example.org")
    assert reply.startswith(b"550 5.6.0 "), reply
    assert await gw.store.spool_list() == []
