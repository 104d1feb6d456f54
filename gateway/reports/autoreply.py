"""RFC 3834 automatic responses (vacation, out of office): recorded, never acted on."""

from __future__ import annotations

import re
from email.message import Message
from typing import Final

from gateway.reports import fields

# Headers that mark a message as an automatic answer, strongest first (RFC 3834 §5; the
# X- ones are what Exchange, Zimbra, OTRS and vacation(1) set instead or as well).
_HEADER_RULES: Final = (
    ("auto-submitted", re.compile(r"auto-replied", re.I)),
    ("x-autoreply", re.compile(r".")),
    ("x-autorespond", re.compile(r".")),
    ("x-autoresponder", re.compile(r".")),
    ("precedence", re.compile(r"auto[_-]reply", re.I)),
    ("x-auto-response-suppress", re.compile(r"\b(all|oof)\b", re.I)),
)
# Subjects that mail programs put on their automatic answers, in the languages most seen.
_SUBJECT: Final = re.compile(
    r"^\s*(automatic reply|auto(matic)?[ -]?(reply|response|answer)|out of (the )?office"
    r"|vacation|away from (the )?office|abwesenheitsnotiz|automatische antwort"
    r"|r[ée]ponse automatique|absence|respuesta autom[aá]tica|fuori sede|risposta automatica"
    r"|automatisch antwoord|afwezig|odpowied[zź] automatyczna|automatick[aá] odpov[eě][dď])",
    re.I,
)
_AUTO_PREFIX: Final = re.compile(r"^\s*auto:", re.I)


def rule(message: Message, strong_only: bool) -> str:
    """The name of the matching rule, or "" if the message is no automatic answer."""
    for name, pattern in _HEADER_RULES:
        value = message.get(name)
        if value is not None and pattern.search(str(value)):
            return f"{name}: {fields.one_line(str(value), 40)}"
    if strong_only:
        return ""
    subject = fields.one_line(str(message.get("subject", "")), 200)
    if _SUBJECT.search(subject) or _AUTO_PREFIX.search(subject):
        return f"subject: {subject[:60]!r}"
    return ""


def sender(message: Message) -> str:
    """The person who is away: the From of the answer."""
    found = fields.addresses_in(str(message.get("from", "")))
    return fields.address(found[0]) if found else ""
