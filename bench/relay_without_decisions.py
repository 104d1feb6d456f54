"""`gatekeeper` with the decision stage taken out: the relay core of this very tree.

What the decision path costs is measured against the same code without it, so that relay
work done since the relay core landed (commit 00979ec) is not counted as the decision path's
gain. Bench only: every recipient is allowed without a look-up, a verdict or a decision
row, at RCPT and at DATA; classification, the spool, delivery and the delivery rows stay.
Run with a transactional stream, so no content is read and no unsubscribe transform runs.

    python3 bench/relay_without_decisions.py --config gatekeeper.toml serve
"""

from __future__ import annotations

import sys
from typing import Any

from gateway.cli import main
from gateway.pipeline import accept
from gateway.policy import Verdict

ALLOWED = Verdict("allow", "bench.no-decision", "", basis="transactional")


async def _no_recipient_decision(self: Any, transaction: Any, address: str) -> None:
    return None


async def _no_message_decision(self: Any, transaction: Any, message: Any, *args: Any) -> Any:
    return {address: ALLOWED for address in message.recipients}, {}


accept.Acceptor.recipient = _no_recipient_decision  # type: ignore[method-assign]
accept.Acceptor._decide = _no_message_decision  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(main())
