"""The HTML a recipient sees at /u/TOKEN, in their language (words from `locales/*.toml`).

Every sentence is a locale template: the code only picks templates and fills in values, each
escaped unless it is `Markup` built here. What a label says is also what is recorded as the
words the person agreed to, so the proof is in the language they read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

from aiohttp import web

from gateway.pipeline.optout import ALL
from gateway.web.i18n import Catalog, Locale, Markup
from gateway.web.pages import page

LEAVE = "leave"
RESUBSCRIBE = "resubscribe"
# The page differs by Accept-Language (and country); caches must not mix the languages.
NEGOTIATED = {"Vary": "Accept-Language"}


@dataclass(frozen=True, slots=True)
class Link:
    """What a verified unsubscribe URL names."""

    token: str
    address: str
    scope: str


@dataclass(frozen=True, slots=True)
class Preferences:
    subscribed: tuple[str, ...]
    """Topics with a live consent that no suppression covers: these can be left."""
    left: tuple[str, ...]
    """Scopes suppressed only because the person unsubscribed: these can be re-joined."""
    suppressed: frozenset[str]
    """Every suppressed scope, whatever the reason."""
    blocked: bool
    """Something other than an unsubscribe (bounce, complaint, erasure) stops all mail."""


@dataclass(frozen=True, slots=True)
class Words:
    """One person's language and the operator's name: everything that makes a sentence."""

    locale: Locale
    catalog: Catalog
    operator: str | None

    @property
    def lang(self) -> str:
        return self.locale.code

    @property
    def sender(self) -> str:
        return self.operator or self.locale.text("sender_fallback")

    def scope(self, scope: str) -> str:
        """The scope as what one gets ("all emails")."""
        return self._phrase(scope, "scope_all", "scope_topic")

    def no_scope(self, scope: str) -> str:
        """The scope in a "no longer get …" sentence, where some languages change the form."""
        return self._phrase(scope, "none_all", "none_topic")

    def scopes(self, scopes: Iterable[str], *, negative: bool) -> str:
        if negative:
            return self.locale.text("none_join").join(map(self.no_scope, scopes))
        return self.locale.text("join").join(map(self.scope, scopes))

    def leave_text(self, scope: str) -> str:
        if scope == ALL:
            return self.locale.text("leave_all", sender=self.sender)
        return self.locale.text("leave_topic", scope=self.scope(scope))

    def resubscribe_text(self, scope: str) -> str:
        return self.locale.text("rejoin_item", scope=self.scope(scope), sender=self.sender)

    def text(self, key: str, **values: str) -> str:
        return self.locale.text(key, **values)

    def html(self, key: str, **values: str) -> Markup:
        return self.locale.html(key, **values)

    def _phrase(self, scope: str, all_key: str, topic_key: str) -> str:
        return self.text(all_key) if scope == ALL else self.text(topic_key, topic=scope)


def strong(value: str) -> Markup:
    return Markup(f"<strong>{escape(value)}</strong>")


def respond(words: Words, status: int, title: str, body: str) -> web.Response:
    """A page in the person's language with links to the others; `body` is escaped HTML."""
    links = " ".join(
        f'<a href="?lang={escape(loc.code)}" hreflang="{escape(loc.code)}" '
        f'lang="{escape(loc.code)}">{escape(loc.name)}</a>'
        for loc in sorted(words.catalog.locales.values(), key=lambda loc: loc.code)
        if loc.code != words.lang
    )
    nav = f'<nav class="langs" aria-label="{escape(words.text("languages_label"))}">{links}</nav>'
    return page(status, title, f"{body}\n{nav}", headers=NEGOTIATED, lang=words.lang)


def refusal_page(words: Words, status: int, key: str) -> web.Response:
    """An error page from the `<key>_title` and `<key>_body` texts."""
    return respond(words, status, words.text(f"{key}_title"), f"<p>{words.html(f'{key}_body')}</p>")


def done_page(words: Words, link: Link) -> web.Response:
    """After a one-click POST."""
    body = (
        '<p role="status">'
        + words.html(
            "done_body",
            address=strong(link.address),
            scope=words.no_scope(link.scope),
            sender=words.sender,
        )
        + f'</p><p><a href="{escape(link.token)}">{words.html("done_change_link")}</a></p>'
    )
    return respond(words, 200, words.text("done_title"), body)


@dataclass(frozen=True, slots=True)
class Forms:
    """The CSRF values of the page's two kinds of form."""

    leave: str
    resubscribe: str

    def hidden(self, purpose: str) -> str:
        value = self.leave if purpose == LEAVE else self.resubscribe
        return (
            f'<input type="hidden" name="action" value="{purpose}">'
            f'<input type="hidden" name="csrf" value="{escape(value)}">'
        )


def preference_page(
    words: Words, forms: Forms, link: Link, prefs: Preferences, notice: str
) -> web.Response:
    parts = [f'<p class="notice" role="status">{escape(notice)}</p>'] if notice else []
    parts.append(f"<p>{words.html('prefs_for', address=strong(link.address))}</p>")
    parts.append(confirm_section(words, forms, link, prefs))
    if ALL not in prefs.suppressed:
        parts.append(choices_form(words, forms, prefs))
    parts.append(resubscribe_section(words, forms, prefs))
    return respond(words, 200, words.text("prefs_title", sender=words.sender), "\n".join(parts))


def confirm_section(words: Words, forms: Forms, link: Link, prefs: Preferences) -> str:
    if prefs.suppressed & {link.scope, ALL}:
        return f"<p>{words.html('unsubscribed_already', scope=words.no_scope(link.scope))}</p>"
    question = words.html("confirm_question", scope=words.scope(link.scope), sender=words.sender)
    return (
        f'<form method="post">{forms.hidden(LEAVE)}'
        f'<input type="hidden" name="scope" value="{escape(link.scope)}">'
        f"<p>{question}</p>"
        f'<button type="submit">{words.html("confirm_button")}</button></form>'
    )


def choices_form(words: Words, forms: Forms, prefs: Preferences) -> str:
    boxes = [
        checkbox(f"leave-{i}", topic, words.leave_text(topic))
        for i, topic in enumerate(prefs.subscribed)
    ]
    boxes.append(checkbox("leave-all", ALL, words.leave_text(ALL)))
    hint = words.html("choices_hint_topics" if prefs.subscribed else "choices_hint_all")
    return (
        f'<form method="post">{forms.hidden(LEAVE)}'
        f'<fieldset><legend>{words.html("choices_legend")}</legend><p class="hint">{hint}</p>'
        + "".join(boxes)
        + '</fieldset><button type="submit" class="secondary">'
        + f"{words.html('choices_button')}</button></form>"
    )


def resubscribe_section(words: Words, forms: Forms, prefs: Preferences) -> str:
    if prefs.blocked:
        return f"<p>{words.html('blocked')}</p>"
    if not prefs.left:
        return ""
    boxes = [
        checkbox(f"rejoin-{i}", scope, words.resubscribe_text(scope))
        for i, scope in enumerate(prefs.left)
    ]
    return (
        f'<form method="post">{forms.hidden(RESUBSCRIBE)}'
        f"<fieldset><legend>{words.html('rejoin_legend')}</legend>"
        f'<p class="hint">{words.html("rejoin_hint")}</p>'
        + "".join(boxes)
        + '</fieldset><button type="submit" class="secondary">'
        + f"{words.html('rejoin_button')}</button></form>"
    )


def checkbox(element_id: str, value: str, text: str) -> str:
    return (
        f'<div class="choice"><input type="checkbox" id="{element_id}" name="scope" '
        f'value="{escape(value)}"><label for="{element_id}">{escape(text)}</label></div>'
    )


def left_notice(words: Words, scopes: Sequence[str]) -> str:
    return words.text("notice_left", scopes=words.scopes(scopes, negative=True))


def rejoined_notice(words: Words, lifted: Sequence[str], refused: Sequence[str]) -> str:
    parts = [words.text("notice_rejoined", scope=words.scope(scope)) for scope in lifted]
    if refused:
        scopes = words.scopes(refused, negative=False)
        parts.append(words.text("notice_cannot_restore", scopes=scopes))
    return " ".join(parts)
