"""The language of the pages a recipient sees: translations from data files, and the choice.

Each `locales/<code>.toml` holds a language's name, the countries whose recipients get it,
and a `[text]` table. English is complete by definition: a key another file lacks, or one
whose {placeholders} differ from English, shows in English, so a half-done translation never
breaks a page. Adding a language is adding a file.
"""

from __future__ import annotations

import functools
import logging
import string
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from importlib.resources import files
from importlib.resources.abc import Traversable

from gateway.policy.jurisdiction import resolve_jurisdiction

log = logging.getLogger(__name__)

DEFAULT = "en"
MAX_LANGUAGE_RANGES = 32
"""Accept-Language ranges looked at: a browser sends a handful, more is noise or abuse."""


class Markup(str):
    """Text that is already HTML: `Locale.html` inserts it as it is, anything else escaped."""


def placeholders(template: str) -> frozenset[str] | None:
    """The {names} a template uses; None when its braces do not parse."""
    try:
        return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)
    except ValueError:
        return None


def fits(translation: str, english: str) -> bool:
    found = placeholders(translation)
    return found is not None and found == placeholders(english)


@dataclass(frozen=True, slots=True)
class Locale:
    code: str
    name: str
    """The language's own name for itself, as the language links show it."""
    countries: tuple[str, ...]
    texts: Mapping[str, str]

    def text(self, key: str, **values: str) -> str:
        """Plain text, for what is recorded as the words a person saw."""
        return self.texts[key].format_map(values)

    def html(self, key: str, **values: str) -> Markup:
        safe = {k: v if isinstance(v, Markup) else escape(v) for k, v in values.items()}
        return Markup(escape(self.texts[key], quote=False).format_map(safe))


@dataclass(frozen=True, slots=True)
class Catalog:
    locales: Mapping[str, Locale]
    by_country: Mapping[str, str]
    """ISO country code (or policy code such as `uk`) -> language code."""

    def get(self, code: str) -> Locale:
        return self.locales.get(code, self.locales[DEFAULT])

    def for_recipient(self, address: str, country: str | None) -> str | None:
        """The contact's country, else the address's ccTLD, exactly as the policy is chosen;
        None when that names no country with a language of its own here."""
        code = resolve_jurisdiction(address, country, self.by_country, default="")
        return self.by_country.get(code)

    def from_accept_language(self, header: str) -> str | None:
        """The best language the browser asks for (RFC 9110 §12.5.4), by q then order."""
        ranked: list[tuple[float, int, str]] = []
        for index, item in enumerate(header.split(",")[:MAX_LANGUAGE_RANGES]):
            tag, _, params = item.strip().partition(";")
            primary = tag.strip().lower().partition("-")[0]
            quality = q_value(params)
            if primary in self.locales and quality > 0:
                ranked.append((-quality, index, primary))
        return min(ranked)[2] if ranked else None

    def choose(
        self, *, explicit: str = "", address: str = "", country: str | None = None, accept: str = ""
    ) -> Locale:
        """Explicit choice (the page's own language links), then the recipient's country,
        then the browser's Accept-Language, then English."""
        if explicit in self.locales:
            return self.locales[explicit]
        by_place = self.for_recipient(address, country) if address else None
        return self.get(by_place or self.from_accept_language(accept) or DEFAULT)


def q_value(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0
            return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0


# --- loading -------------------------------------------------------------------------------


def load_catalog(directory: Traversable | None = None) -> Catalog:
    """Every `*.toml` in the directory; a broken file is logged and left out, never fatal."""
    folder = directory or files("gateway.web") / "locales"
    raw: dict[str, dict[str, object]] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            try:
                raw[entry.name.removesuffix(".toml")] = tomllib.loads(entry.read_text("utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                log.error("locale %s left out: %s", entry.name, exc)
    english = texts_of(raw.get(DEFAULT, {}))
    if not english:
        raise RuntimeError(f"{folder}: no {DEFAULT}.toml with a [text] table")
    locales = {code: build_locale(code, data, english) for code, data in raw.items()}
    by_country: dict[str, str] = {}
    for locale in locales.values():
        for country in locale.countries:
            by_country.setdefault(country, locale.code)
    return Catalog(locales, by_country)


def build_locale(code: str, data: Mapping[str, object], english: Mapping[str, str]) -> Locale:
    own = texts_of(data)
    usable = {
        key: value for key, value in own.items() if key in english and fits(value, english[key])
    }
    for key in sorted(own.keys() - usable.keys()):
        log.warning("locale %s: %r unknown or its {placeholders} differ; English used", code, key)
    countries = data.get("countries", [])
    return Locale(
        code=code,
        name=str(data.get("language", code)),
        countries=tuple(str(c).lower() for c in countries) if isinstance(countries, list) else (),
        texts={**english, **usable},
    )


def texts_of(data: Mapping[str, object]) -> dict[str, str]:
    table = data.get("text", {})
    if not isinstance(table, dict):
        return {}
    return {str(k): v for k, v in table.items() if isinstance(v, str)}


@functools.cache
def catalog() -> Catalog:
    return load_catalog()
