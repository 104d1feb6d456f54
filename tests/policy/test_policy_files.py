"""The shipped policy files, their validation, and jurisdiction resolution."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.policy import (
    PolicyError,
    default_policy_dir,
    describe,
    lint,
    load_policies,
    resolve_jurisdiction,
)
from gateway.policy.bases import SoftOptIn

SHIPPED = default_policy_dir()
CODES = {"eu", "pl", "cz", "nl", "de", "uk", "us", "ca"}


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    for path in SHIPPED.glob("*.toml"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _line_of(path: Path, fragment: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if fragment in line)


def test_shipped_files_lint_clean() -> None:
    assert lint(SHIPPED) == []
    assert set(load_policies(SHIPPED)) == CODES


def test_describe_lists_rule_ids_and_citations() -> None:
    text = describe(load_policies(SHIPPED)["cz"])
    assert "cz.marketing.soft-opt-in — Act 480/2004 Coll. §7(3)" in text
    assert "obchodní sdělení" in text


def test_typo_names_file_line_and_key(policy_dir: Path) -> None:
    cz = policy_dir / "cz.toml"
    _edit(cz, "similar = true", "similra = true")
    problems = lint(policy_dir)
    assert problems == [
        f"{cz}:{_line_of(cz, 'similra')}: marketing.soft-opt-in.similra: unknown key; "
        "known: id, cite, window_months, similar"
    ]
    with pytest.raises(PolicyError, match=r"cz\.toml:\d+: marketing\.soft-opt-in\.similra"):
        load_policies(policy_dir)


@pytest.mark.parametrize(
    ("old", "new", "key", "message"),
    [
        ('bases = ["consent", "implied', 'bases = ["consnet", "implied', "marketing.bases",
         "unknown consnet"),
        ("window_hours = 48", "window_hours = 0", "confirmation.pending-confirmation.window_hours",
         "positive integer"),
        ('missing = "partner-not-consented"', 'missing = "nope"',
         "partner-marketing.consent.missing", "must be one of"),
        ('[marketing.consent]\nid = "ca.marketing.consent"\n', "[marketing.consent]\n",
         "marketing.consent", "missing key 'id'"),
        ('treat_as = "marketing"', 'treat_as = "service"', "service.treat_as", "stricter"),
        ("[greeting]", "[greting]", "greting", "unknown key"),
    ],
)  # fmt: skip
def test_bad_values_are_reported(
    policy_dir: Path, old: str, new: str, key: str, message: str
) -> None:
    _edit(policy_dir / "ca.toml", old, new)
    [problem] = lint(policy_dir)
    assert problem.startswith(f"{policy_dir / 'ca.toml'}:")
    assert f": {key}: " in problem
    assert message in problem


def test_invalid_toml_is_reported(policy_dir: Path) -> None:
    (policy_dir / "nl.toml").write_text("[marketing\n", encoding="utf-8")
    [problem] = lint(policy_dir)
    assert "nl.toml" in problem and "line 1" in problem


def test_extends_inherits_and_overrides(policy_dir: Path) -> None:
    (policy_dir / "sk.toml").write_text(
        'name = "Slovakia"\nextends = "cz"\n\n[marketing.soft-opt-in]\n'
        'id = "sk.marketing.soft-opt-in"\ncite = "Act 452/2021 Coll. §116(15)"\n'
        "window_months = { purchase = 12 }\n",
        encoding="utf-8",
    )
    policy = load_policies(policy_dir)["sk"]
    soft = policy.purposes["marketing"].bases["soft-opt-in"]
    assert isinstance(soft, SoftOptIn)
    assert (soft.id, dict(soft.window_months), soft.similar) == (
        "sk.marketing.soft-opt-in", {"purchase": 12}, True,
    )  # fmt: skip
    assert policy.purposes["service"].treat_as == "marketing"  # from cz
    assert policy.suppressions["erased"].id == "eu.suppression.erased"  # from eu via cz


def test_extends_unknown_policy(policy_dir: Path) -> None:
    _edit(policy_dir / "pl.toml", 'extends = "eu"', 'extends = "xx"')
    [problem] = lint(policy_dir)
    assert f"{policy_dir / 'pl.toml'}:3: extends:" in problem


def test_changed_rule_needs_its_own_id_and_cite(policy_dir: Path) -> None:
    (policy_dir / "sk.toml").write_text(
        'extends = "eu"\n[marketing.soft-opt-in]\nwindow_months = { purchase = 12 }\n',
        encoding="utf-8",
    )
    problems = lint(policy_dir)
    assert [p.split(": ", 2)[1:] for p in problems] == [
        ["marketing.soft-opt-in", "missing key 'id' (every rule needs an id and a cite)"],
        ["marketing.soft-opt-in", "missing key 'cite' (every rule needs an id and a cite)"],
    ]


@pytest.mark.parametrize(
    ("address", "country", "expected"),
    [
        ("a@shop.example", "CZ", "cz"),  # contact country wins, any case
        ("a@shop.de", "pl", "pl"),
        ("a@seznam.CZ", None, "cz"),  # ccTLD, any case
        ("a@firma.de.", None, "de"),
        ("a@example.co.uk", None, "uk"),  # .uk is the UK
        ("a@example.com", "GB", "uk"),  # GB is the UK
        ("a@example.com", "uk", "uk"),
        ("a@example.fr", None, "eu"),  # EU member without its own file
        ("a@example.com", "NO", "eu"),  # EEA
        ("a@example.ch", None, "eu"),  # not EU/EEA: the default (eu)
        ("a@example.jp", None, "eu"),
        ("a@example.com", None, "eu"),  # generic TLD: the default
        ("a@example.ca", None, "ca"),
        ("a@example.com", "US", "us"),
    ],
)
def test_resolve_jurisdiction(address: str, country: str | None, expected: str) -> None:
    assert resolve_jurisdiction(address, country, CODES, "eu") == expected


def test_non_eu_country_uses_the_configured_default() -> None:
    assert resolve_jurisdiction("a@example.ch", None, CODES, "us") == "us"
    assert resolve_jurisdiction("a@example.at", None, CODES, "us") == "eu"
    assert resolve_jurisdiction("a@example.com", None, CODES, "US") == "us"
