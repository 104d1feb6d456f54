"""Commands per session, counted before aiosmtpd runs them (issue 11).

`smtp.max_commands` in all and `smtp.max_noops` for the commands that change nothing (NOOP,
RSET, VRFY, HELP: Postfix's "junk" commands), so a NOOP every few seconds cannot hold a
session open; beyond, `421 4.7.0` and close (RFC 5321 §4.2.4). A bare CR inside a command
line (RFC 5321 §2.3.8: CR only with LF, as its end) is refused `501 5.5.2` before the
command sees it: aiosmtpd's address parser would drop it and read another address.
"""

from __future__ import annotations

from gateway.config import SmtpConfig
from gateway.pipeline import replies

JUNK = frozenset({"NOOP", "RSET", "VRFY", "HELP"})


class CommandCount:
    def __init__(self, config: SmtpConfig) -> None:
        self._config = config
        self.commands = 0
        self.junk = 0

    def refusal(self, command: str, arg: str | None) -> tuple[str, bool] | None:
        """The reply that stops this command, and whether the session closes after it."""
        self.commands += 1
        if command in JUNK:
            self.junk += 1
        if self.commands > self._config.max_commands:
            return replies.TOO_MANY_COMMANDS, True
        if self.junk > self._config.max_noops:
            return replies.TOO_MANY_NOOPS, True
        if arg is not None and "\r" in arg:
            return replies.BARE_CR_IN_COMMAND, False
        return None
