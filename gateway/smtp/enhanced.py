"""RFC 3463 enhanced status codes (RFC 2034) for replies written without one."""

from __future__ import annotations

import re

# Codes for the replies aiosmtpd writes itself, mostly.
# fmt: off
_DEFAULT_ENHANCED = {
    "221": "2.0.0", "235": "2.7.0", "250": "2.0.0", "251": "2.1.5", "252": "2.5.0",
    "421": "4.3.0", "450": "4.2.0", "451": "4.3.0", "452": "4.3.1", "454": "4.7.0",
    "500": "5.5.2", "501": "5.5.4", "502": "5.5.1", "503": "5.5.1", "504": "5.5.4",
    "530": "5.7.0", "534": "5.7.9", "535": "5.7.8", "538": "5.7.11", "550": "5.0.0",
    "552": "5.3.4", "553": "5.1.3", "554": "5.0.0", "555": "5.5.4",
}
# fmt: on
_HAS_ENHANCED = re.compile(r"^\d{3}[ -][245]\.\d{1,3}\.\d{1,3}(?: |$)")


def with_enhanced_code(status: str) -> str:
    code = status[:3]
    enhanced = _DEFAULT_ENHANCED.get(code)
    if enhanced is None or _HAS_ENHANCED.match(status) or len(status) < 4:
        return status
    return f"{status[:4]}{enhanced} {status[4:]}"
