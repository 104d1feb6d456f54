"""Content findings of a parsed message: what the commercial-content rules ask about.

Pure and cheap: reads the text leaves the MIME walker found (gateway.pipeline.mime), decodes them,
strips HTML tags for matching. A stage of its own (`ContentReader`): the accept stage reads
the body and hands the findings to the decide stage, whose policy engine decides what they
mean for a given purpose and jurisdiction.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import chain

from gateway.config import Config
from gateway.pipeline.mime import TextPart, part_text
from gateway.policy.facts import Content

UNSUBSCRIBE_PLACEHOLDER = "%unsubscribe_url%"

UNSUBSCRIBE_WORDS: tuple[str, ...] = (
    "unsubscribe",
    "odhlásit",
    "odhlasit",  # the Czech word as it appears in URLs
    "abmelden",
    "afmelden",
    "wypisz",
)
"""Words that make a link an unsubscribe link (en, cs, de, nl, pl)."""

PROMOTIONAL_MARKERS: tuple[str, ...] = (
    "% off",
    "sale",
    "discount",
    "sleva",
    "akce",
    "rabatt",
    "promo code",
    "coupon",
)

_TAG = re.compile(r"<[^>]*>")
_WINDOW = 256 * 1024
"""Bytes of an unparsed body decoded at a time when looking for promotional markers."""
_ANCHOR = re.compile(
    r"""<a\b[^>]*?\bhref\s*=\s*["']?([^"'\s>]+)[^>]*>(.*?)</a\s*>""", re.IGNORECASE | re.DOTALL
)
_URL = re.compile(r"https?://\S+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Identity:
    """The operator's identity from config (`identity.*`); None means not configured."""

    name: str | None = None
    registration: str | None = None
    postal_address: str | None = None


@dataclass(frozen=True, slots=True)
class ContentReader:
    """The content stage: what a body shows, for the content rules of the decide stage."""

    identity: Identity
    unsubscribe_base: str | None
    """Links under the gateway's own unsubscribe URL count as unsubscribe links."""

    @classmethod
    def from_config(cls, config: Config) -> ContentReader:
        identity = config.identity
        return cls(
            Identity(identity.name, identity.registration, identity.postal_address),
            config.http.public_url.rstrip("/") + "/u/",
        )

    def read(
        self, data: bytes, subject: str, parts: Sequence[TextPart] | None = None
    ) -> BodyFindings:
        """What the body shows as the app sent it, worked out as the rules ask: in `parts`
        (gateway.pipeline.mime.text_parts: no object tree of the email package on the hot path), or
        without them in the bytes read as one text, unparsed (enough for the promotional
        markers of transactional mail; an encoded body is not looked into)."""

        def texts() -> list[tuple[str, bool]]:
            if parts is None:
                return [(data.decode("utf-8", "replace"), False)]
            return [(part_text(data, part), part.subtype == "html") for part in parts]

        findings = BodyFindings(texts, subject, self.identity, self.unsubscribe_base, parts)
        if parts is None:
            findings.marker_texts = lambda: _windows(data)
        return findings

    def as_sent(self, findings: BodyFindings, footer: bool) -> Content:
        """What the body will show once transformed: the content rules judge that. The
        footer (Personalizer.adds_footer) brings the link and the identity."""
        return WithFooter(findings, self.identity) if footer else findings


class BodyFindings:
    """The findings of one message body, each worked out the first time it is asked for.

    The engine asks only what a rule of the recipient's policy needs, and the footer answers
    the identity rules itself (`WithFooter`), so on the hot path most bodies are read for
    the unsubscribe link alone.
    """

    def __init__(
        self,
        texts: Callable[[], list[tuple[str, bool]]],
        subject: str,
        identity: Identity,
        unsubscribe_base: str | None,
        parts: Sequence[TextPart] | None = None,
    ) -> None:
        self.parts = parts
        """The text leaves read (text_parts), None for a body read unparsed."""
        self._texts = texts
        self._subject = subject
        self._identity = identity
        self._unsubscribe_base = unsubscribe_base
        self.marker_texts: Callable[[], Iterator[str]] = lambda: (p.text for p in self._parts)
        """Where the markers are looked for: an unparsed body a window at a time (`_windows`),
        so that a large one is not decoded and case-folded whole (issue 11: held once)."""

    @cached_property
    def _parts(self) -> list[_Part]:
        return [_Part(raw, _visible(raw, html_part)) for raw, html_part in self._texts()]

    @cached_property
    def _seen(self) -> str:
        return _squash(" ".join(part.text for part in self._parts))

    @cached_property
    def has_unsubscribe_link(self) -> bool:
        return any(_has_unsubscribe(part, self._unsubscribe_base) for part in self._parts)

    @cached_property
    def has_sender_identification(self) -> bool:
        identity = self._identity
        return _shows(self._seen, identity.name) and (
            identity.registration is None or _shows(self._seen, identity.registration)
        )

    @cached_property
    def has_postal_address(self) -> bool:
        return _shows(self._seen, self._identity.postal_address)

    @cached_property
    def promotional_markers(self) -> tuple[str, ...]:
        return _markers([self._subject], self.marker_texts())

    @property
    def promotional(self) -> bool:
        return bool(self.promotional_markers)


@dataclass(frozen=True, slots=True)
class WithFooter:
    """What the body shows once the gateway's footer (docs/design.md §6) is added: the footer brings
    the unsubscribe link and every configured `identity.*` line."""

    body: BodyFindings
    identity: Identity

    @property
    def has_unsubscribe_link(self) -> bool:
        return True

    @property
    def has_sender_identification(self) -> bool:
        return bool(self.identity.name) or self.body.has_sender_identification

    @property
    def has_postal_address(self) -> bool:
        return bool(self.identity.postal_address) or self.body.has_postal_address

    @property
    def promotional(self) -> bool:
        return self.body.promotional


@dataclass(frozen=True, slots=True)
class _Part:
    raw: str
    """The decoded part as written (HTML keeps its tags, for links)."""
    text: str
    """What a reader sees: tags stripped, entities decoded."""


def _windows(data: bytes) -> Iterator[str]:
    """`data` decoded whole lines at a time: a line end is a character boundary in UTF-8 and
    no marker spans lines, so the markers found are those of the whole text."""
    start = 0
    while start < len(data):
        end = data.find(b"\n", min(start + _WINDOW, len(data)) - 1) + 1 or len(data)
        yield data[start:end].decode("utf-8", "replace")
        start = end


def _visible(raw: str, is_html: bool) -> str:
    return html.unescape(_TAG.sub(" ", raw)) if is_html else raw


def _squash(text: str) -> str:
    """Case-folded, without whitespace or commas, so line breaks and layout do not matter.

    str.split finds the same whitespace as the regex class \\s, several times faster."""
    return "".join(text.split()).replace(",", "").casefold()


def _shows(seen: str, wanted: str | None) -> bool:
    # Unconfigured identity fails the check (fail safe).
    return bool(wanted and wanted.strip()) and _squash(wanted or "") in seen


def _mentions_unsubscribe(text: str) -> bool:
    lowered = text.casefold()
    return any(word in lowered for word in UNSUBSCRIBE_WORDS)


def _has_unsubscribe(part: _Part, unsubscribe_base: str | None) -> bool:
    if UNSUBSCRIBE_PLACEHOLDER in part.raw or (unsubscribe_base and unsubscribe_base in part.raw):
        return True
    # Every test below needs an unsubscribe word, and most bodies have none: one look first.
    if not _mentions_unsubscribe(part.raw) and (
        part.text is part.raw or not _mentions_unsubscribe(part.text)
    ):
        return False
    anchors = _ANCHOR.findall(part.raw)
    if any(
        _mentions_unsubscribe(href) or _mentions_unsubscribe(_TAG.sub(" ", text))
        for href, text in anchors
    ):
        return True
    # Plain text: a URL that says unsubscribe, or a line offering one next to its URL.
    return any(_URL.search(line) and _mentions_unsubscribe(line) for line in part.text.splitlines())


def _markers(*sources: Iterable[str]) -> tuple[str, ...]:
    """Markers found as whole words; str.find per marker, which is far cheaper than one
    alternation regex tried at every position of a long body. Texts are taken one at a time
    (a window of a large body is dropped before the next is decoded)."""
    found = set()
    for text in chain.from_iterable(sources):
        lowered = text.casefold()
        for marker in PROMOTIONAL_MARKERS:
            start = lowered.find(marker)
            while start >= 0 and not _whole_word(lowered, start, len(marker)):
                start = lowered.find(marker, start + 1)
            if start >= 0:
                found.add(marker)
    return tuple(sorted(found))


def _whole_word(text: str, start: int, length: int) -> bool:
    before = text[start - 1] if start else " "
    after = text[start + length] if start + length < len(text) else " "
    word_start = not text[start].isalpha() or not (before.isalnum() or before == "_")
    return word_start and not (after.isalnum() or after == "_")
