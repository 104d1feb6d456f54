"""The locale files and the choice of language, without a server (gateway/web/i18n.py)."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

import pytest

from gateway.web.i18n import DEFAULT, Markup, catalog, load_catalog, placeholders

LANGUAGES = {"cs", "pl", "nl", "de", "fr", "en"}
LOCALES = Path(__file__).resolve().parents[2] / "gateway" / "web" / "locales"


def test_the_six_languages_ship() -> None:
    assert set(catalog().locales) >= LANGUAGES
    assert {path.stem for path in LOCALES.glob("*.toml")} >= LANGUAGES


@pytest.mark.parametrize("path", sorted(LOCALES.glob("*.toml")), ids=lambda p: p.stem)
def test_every_locale_file_has_every_english_key_and_placeholder(path: Path) -> None:
    """Every file in the folder, an operator's new one too; read as files, because the
    catalog would hide a gap behind the English text."""
    english = tomllib.loads((LOCALES / "en.toml").read_text("utf-8"))["text"]
    own = tomllib.loads(path.read_text("utf-8"))
    assert own["language"] and own["countries"]
    assert own["text"].keys() == english.keys()
    for key, template in own["text"].items():
        assert placeholders(template) == placeholders(english[key]), (path.stem, key)
        if path.stem in LANGUAGES - {DEFAULT} and not key.endswith("join"):
            assert template != english[key], f"{path.stem}.{key} untranslated"


def test_diacritics_survive_loading() -> None:
    texts = {code: catalog().get(code) for code in ("cs", "pl", "de", "fr")}
    assert texts["cs"].text("confirm_button") == "Ano, odhlásit odběr"
    assert "żadnych e-maili" in texts["pl"].text("none_all")
    assert texts["de"].text("choices_button") == "Auswahl speichern"
    assert texts["fr"].text("scope_topic", topic="x") == "les e-mails concernant «\u00a0x\u00a0»"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de"),
        ("en;q=0.3, nl;q=0.8, fr;q=0.5", "nl"),
        ("fr;q=0, pl", "pl"),
        ("es, it;q=0.9, cs;q=0.1", "cs"),
        ("FR-ca", "fr"),
        ("nl;q=0.5, de;q=0.5", "nl"),
        ("de;q=abc, pl;q=0.2", "pl"),
        ("de;q=1.5, pl;q=0.2", "pl"),
    ],
)
def test_accept_language_q_values(header: str, expected: str) -> None:
    assert catalog().from_accept_language(header) == expected


@pytest.mark.parametrize("header", ["", "*", "es, it", "fr;q=0", ",,;;="])
def test_accept_language_without_a_match(header: str) -> None:
    assert catalog().from_accept_language(header) is None
    assert catalog().choose(accept=header).code == DEFAULT


@pytest.mark.parametrize(
    ("address", "country", "expected"),
    [
        ("jan@firma.cz", None, "cs"),
        ("anna@sklep.pl", None, "pl"),
        ("piet@winkel.nl", None, "nl"),
        ("hans@laden.de", None, "de"),
        ("lea@shop.at", None, "de"),
        ("marie@boutique.fr", None, "fr"),
        ("tom@shop.co.uk", None, "en"),
        ("alice@example.org", "cz", "cs"),
        ("alice@example.org", "GB", "en"),
        ("jan@firma.cz", "de", "de"),
        ("jan@firma.cz", "sk", None),  # a stated country wins, even one without a language
        ("alice@example.org", None, None),
        ("eva@obchod.sk", None, None),
    ],
)
def test_recipient_country_as_the_policy_reads_it(
    address: str, country: str | None, expected: str | None
) -> None:
    assert catalog().for_recipient(address, country) == expected


def test_precedence_explicit_then_country_then_browser() -> None:
    cat = catalog()
    assert cat.choose(explicit="fr", address="jan@firma.cz", accept="de").code == "fr"
    assert cat.choose(address="jan@firma.cz", accept="de").code == "cs"
    assert cat.choose(address="eva@obchod.sk", accept="pl;q=0.5,de;q=0.4").code == "pl"
    assert cat.choose(explicit="xx", accept="nl").code == "nl"  # unknown choice ignored


def test_html_escapes_template_and_values_but_not_markup() -> None:
    en = catalog().get("en")
    html = en.html("prefs_for", address="<a@b>")
    assert html == "These choices are for &lt;a@b&gt;."
    assert en.html("prefs_for", address=Markup("<strong>x</strong>")) == (
        "These choices are for <strong>x</strong>."
    )


def test_missing_or_mismatched_keys_fall_back_to_english(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "locales"
    folder.mkdir()
    (folder / "en.toml").write_text(
        'language = "English"\ncountries = ["us"]\n[text]\n'
        'greeting = "Hello {name}"\nbye = "Bye"\nbraces = "{x}"\n'
    )
    (folder / "sv.toml").write_text(
        'language = "Svenska"\ncountries = ["se"]\n[text]\n'
        'greeting = "Hej {namn}"\nbraces = "{x"\nextra = "?"\n'
    )
    (folder / "xx.toml").write_text("this is not toml = = =\n")
    with caplog.at_level(logging.WARNING, logger="gateway.web.i18n"):
        cat = load_catalog(folder)
    swedish = cat.get("sv")
    assert swedish.name == "Svenska" and cat.for_recipient("a@b.se", None) == "sv"
    assert swedish.text("greeting", name="Ann") == "Hello Ann"  # {namn} is not {name}
    assert swedish.text("bye") == "Bye" and swedish.text("braces", x="1") == "1"
    assert "xx" not in cat.locales
    logged = caplog.text
    assert "xx.toml" in logged and "'greeting'" in logged and "'extra'" in logged


def test_a_folder_without_english_is_refused(tmp_path: Path) -> None:
    (tmp_path / "de.toml").write_text('[text]\na = "b"\n')
    with pytest.raises(RuntimeError, match=r"en\.toml"):
        load_catalog(tmp_path)
