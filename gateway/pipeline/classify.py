"""Classify stage: the message's purpose, topic, category and partner (docs/design.md §2).

In order: the session's stream (bound before RCPT), `X-Gatekeeper-*` headers (which may
make the purpose stricter, never looser), then — only when neither names a purpose —
compatible hints of other senders, content heuristics, and `policy.unknown_purpose`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message

from gateway.addresses import matches_glob
from gateway.config import Config, SmtpUser
from gateway.pipeline.content import BodyFindings, ContentReader
from gateway.pipeline.mime import text_parts
from gateway.pipeline.receive import decoded_header
from gateway.policy.facts import PURPOSES, strictness

# Subjects that only mail a person asked for carries; used when nothing declares a purpose.
_TRANSACTIONAL_SUBJECT = re.compile(
    r"\b(password reset|reset your password|verify your (e-?mail|account)|confirm your "
    r"e-?mail|receipt|invoice|order (confirmation|#?\d+)|security alert|sign-in code|"
    r"verification code|faktura|rechnung|factuur|faktura vat|potvrzen[ií] objedn[aá]vky)\b",
    re.IGNORECASE,
)


@dataclass
class Classification:
    purpose: str
    origin: str
    """stream | header | hint | heuristic | default"""
    topic: str | None = None
    category: str | None = None
    partner: str | None = None
    notes: list[str] = field(default_factory=list)


def stream_for(config: Config, user: SmtpUser | None, sender: str) -> tuple[str | None, str | None]:
    """The purpose (and topic) a session is bound to before RCPT: the AUTH user's, else the
    first `[[streams]]` whose sender glob matches MAIL FROM."""
    if user is not None and user.purpose:
        return user.purpose, user.topic
    for stream in config.streams:
        if sender and matches_glob(sender, [stream.sender]):
            return stream.purpose, stream.topic
    return None, None


def classify(
    headers: Message,
    *,
    stream_purpose: str | None,
    stream_topic: str | None,
    promotional: Callable[[], bool],
    unknown_purpose: str,
    reclassify_promotional: bool,
) -> Classification:
    """`promotional` says whether content heuristics find promotional markers; it is asked
    only where the answer can change the outcome (reading a body is not free)."""
    notes: list[str] = []
    result = _declared(headers, stream_purpose, notes) or _guessed(
        headers, promotional, unknown_purpose
    )
    result.notes[:0] = notes
    result.topic = _header(headers, "X-Gatekeeper-Topic") or stream_topic
    result.category = _header(headers, "X-Gatekeeper-Category")
    result.partner = _header(headers, "X-Gatekeeper-Partner")
    # Without the setting the engine only warns (a declared purpose is the app's word).
    if (
        reclassify_promotional
        and result.purpose in ("transactional", "confirmation")
        and (promotional())
    ):
        result.notes.append(f"promotional content: {result.purpose} treated as marketing")
        result.purpose = "marketing"
    return result


def _declared(
    headers: Message, stream_purpose: str | None, notes: list[str]
) -> Classification | None:
    """The stream's or the header's purpose; `notes` collects what was ignored and why."""
    declared = (_header(headers, "X-Gatekeeper-Purpose") or "").lower()
    if declared and declared not in PURPOSES:
        notes.append(f"unknown X-Gatekeeper-Purpose {declared!r} ignored")
        declared = ""
    if stream_purpose is None:
        return Classification(declared, "header") if declared else None
    if declared and strictness(declared) > strictness(stream_purpose):
        return Classification(declared, "header")
    if declared and declared != stream_purpose:
        notes.append(f"X-Gatekeeper-Purpose {declared!r} is looser than the stream's; ignored")
    return Classification(stream_purpose, "stream")


def _guessed(
    headers: Message, promotional: Callable[[], bool], unknown_purpose: str
) -> Classification:
    stream = _header(headers, "X-PM-Message-Stream")
    if stream:
        purpose = "transactional" if stream.lower() == "outbound" else "marketing"
        return Classification(purpose, "hint", notes=[f"X-PM-Message-Stream: {stream}"])
    precedence = (_header(headers, "Precedence") or "").lower()
    if precedence in ("bulk", "list") or headers.get("List-Id") is not None:
        return Classification("marketing", "hint", notes=["bulk or list mail"])
    if promotional():
        return Classification("marketing", "heuristic", notes=["promotional content"])
    if _TRANSACTIONAL_SUBJECT.search(decoded_header(headers, "Subject")):
        return Classification("transactional", "heuristic", notes=["transactional subject"])
    return Classification(unknown_purpose, "default", notes=["purpose not declared"])


def _header(headers: Message, name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def classify_message(
    config: Config,
    reader: ContentReader,
    data: bytes,
    headers: Message,
    stream_purpose: str | None,
    stream_topic: str | None,
) -> tuple[Classification, BodyFindings]:
    """The purpose first: transactional mail has no content rules, so its body is never
    parsed, only read as it came for promotional markers, and only when they matter."""
    subject = decoded_header(headers, "Subject")
    unparsed = reader.read(data, subject)
    classification = classify(
        headers,
        stream_purpose=stream_purpose,
        stream_topic=stream_topic,
        promotional=lambda: unparsed.promotional,
        unknown_purpose=config.policy.unknown_purpose,
        reclassify_promotional=config.policy.reclassify_promotional,
    )
    if classification.purpose == "transactional":
        return classification, unparsed
    return classification, reader.read(data, subject, text_parts(data, headers))
