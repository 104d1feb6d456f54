"""CSV as people export it (Excel in a `;` locale, Google Sheets, a CRM): the delimiter
sniffed from the header line, a UTF-8 BOM, header names in any case with spaces, list
fields split on `;`, `,` or `|`; a file that is not UTF-8 names the line and what to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import run_cli


@pytest.fixture
def gk(tmp_path: Path):
    config = tmp_path / "gatekeeper.toml"
    config.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "gk.db"}"\n')

    def run(*args: str):
        return run_cli(*args, "--config", str(config), cwd=tmp_path)

    return run


def topics(gk, address: str) -> list[str]:
    proof = json.loads(gk("contacts", "proof", address).stdout)
    return sorted(c["topic"] for c in proof["consents"])


def test_semicolon_file_with_bom_and_spaced_upper_case_header(gk, tmp_path):
    text = (
        " Email ; COUNTRY;Consent_Topics ; consent_at\r\n"
        "ann@example.cz;CZ;newsletter,offers;2026-01-05\r\n"
        "bob@example.pl;pl;newsletter|marketing;2026-01-06\r\n"
        ";;;\r\n"  # spreadsheets leave empty rows at the end
    )
    (tmp_path / "c.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    result = gk("contacts", "import", "c.csv")
    assert result.returncode == 0, result.stderr
    assert "imported 2 rows" in result.stdout
    assert topics(gk, "ann@example.cz") == ["newsletter", "offers"]
    assert topics(gk, "bob@example.pl") == ["marketing", "newsletter"]


def test_comma_file_keeps_semicolon_lists(gk, tmp_path):
    (tmp_path / "c.csv").write_text(
        'email,consent_topics,consent_at\ncy@example.nl,"a;b",2026-01-05\n'
        "di@example.nl,c;d,2026-01-05\n"
    )
    assert gk("contacts", "import", "c.csv").returncode == 0
    assert topics(gk, "cy@example.nl") == ["a", "b"]
    assert topics(gk, "di@example.nl") == ["c", "d"]


def test_not_utf8_names_the_line_and_imports_nothing(gk, tmp_path):
    rows = "email;country\nann@example.cz;cz\nřehoř@example.cz;cz\n"
    (tmp_path / "c.csv").write_bytes(rows.encode("cp1250"))
    result = gk("contacts", "import", "c.csv")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "line 3: not UTF-8 (save the file as UTF-8" in lines[0] and "cp1250" in lines[0]
    assert "nothing was imported" in lines[0]
    assert gk("contacts", "show", "ann@example.cz").stdout.startswith("ann@example.cz: no contact")


def test_utf16_is_named(gk, tmp_path):
    (tmp_path / "c.csv").write_bytes("email\tcountry\nann@example.cz\tcz\n".encode("utf-16"))
    result = gk("contacts", "import", "c.csv")
    assert result.returncode != 0
    assert "line 1: the file is UTF-16" in result.stderr and "CSV UTF-8" in result.stderr


def test_tab_separated(gk, tmp_path):
    (tmp_path / "c.tsv").write_text("Email\tCountry\nann@example.cz\tcz\n")
    assert gk("contacts", "import", "c.tsv").returncode == 0


def test_suppress_import_speaks_the_same_dialect(gk, tmp_path):
    text = "EMAIL;Scope;Reason\r\nann@example.cz;newsletter;objected\r\n"
    (tmp_path / "s.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    result = gk("suppress", "import", "s.csv")
    assert result.returncode == 0, result.stderr
    listed = gk("suppress", "list").stdout.splitlines()
    assert listed[1].startswith("ann@example.cz,newsletter,objected,import,")
    (tmp_path / "bad.csv").write_bytes("email\nok@example.cz\nžák@example.cz\n".encode("cp1250"))
    refused = gk("suppress", "import", "bad.csv")
    assert refused.returncode == 1 and "line 3: not UTF-8" in refused.stderr
