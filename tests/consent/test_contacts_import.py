"""`gatekeeper contacts import`: all or nothing, line numbers, re-import, a million rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bench.gen_contacts import COLUMNS, write
from tests.support.cli import run_cli

HEADER = ",".join(COLUMNS)


def config_for(tmp_path: Path) -> Path:
    path = tmp_path / "gatekeeper.toml"
    path.write_text(f'[store]\nurl = "sqlite:///{tmp_path / "gk.db"}"\n')
    return path


def count(tmp_path: Path, table: str) -> int:
    with sqlite3.connect(tmp_path / "gk.db") as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def import_csv(tmp_path: Path, text: str):
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text(text)
    return run_cli("--config", str(config_for(tmp_path)), "contacts", "import", str(csv_file))


@pytest.mark.parametrize(
    ("row", "complaint"),
    [
        ("bad-address,cz,signup-form,,,,,,,,,", "line 3"),
        ("x@example.com,czech,signup-form,,,,,,,,,", "country"),
        ("x@example.com,cz,telepathy,,,,,,,,,", "unknown source"),
        ("x@example.com,cz,api,news,yesterday,,,,,,,", "consent_at"),
        ("x@example.com,cz,api,news,,,,,,,,", "without consent_at"),
        ("x@example.com,cz,api,,,,,purchase,,,,", "without last_purchase_at"),
        ("x@example.com,cz,api,,,,,rental,2026-01-01,,,", "customer_kind"),
        ("x@example.com,cz,api,,,,,,,,,bad scope!", "scope"),
        ("x@example.com,cz,api,,,,,,,,,,extra", "more fields"),
    ],
)
def test_a_bad_row_imports_nothing_and_says_why(tmp_path, row, complaint):
    good = "ok@example.com,cz,signup-form,newsletter,2026-01-01,,ip=192.0.2.1,,,,,"
    result = import_csv(tmp_path, f"{HEADER}\n{good}\n{row}\n")
    assert result.returncode == 1
    assert "line 3" in result.stderr and complaint in result.stderr
    assert "nothing was imported" in result.stderr
    assert count(tmp_path, "contact") == 0


def test_unknown_column_is_refused(tmp_path):
    result = import_csv(tmp_path, "email,favourite_colour\nx@example.com,blue\n")
    assert result.returncode == 1 and "favourite_colour" in result.stderr


def test_reimport_updates_and_appends_events_without_duplicates(tmp_path):
    first = (
        f"{HEADER}\nAnn@Example.com,cz,signup-form,newsletter,2026-01-01,"
        f"2026-01-01T00:05:00,ip=192.0.2.1,purchase,2026-02-01,books,,\n"
    )
    assert import_csv(tmp_path, first).returncode == 0
    again = import_csv(tmp_path, first)
    assert again.returncode == 0
    assert "0 new contacts, 0 consent events" in again.stdout
    regranted = first.replace("2026-01-01,2026-01-01T00:05:00", "2026-03-01,")
    assert import_csv(tmp_path, regranted).returncode == 0
    assert count(tmp_path, "contact") == 1
    assert count(tmp_path, "consent_event") == 3  # grant, confirm, the newer grant
    with sqlite3.connect(tmp_path / "gk.db") as db:
        granted, confirmed = db.execute(
            "SELECT granted_at, double_opt_in_at FROM consent WHERE address = 'ann@example.com'"
        ).fetchone()
    assert granted.startswith("2026-03-01") and confirmed.startswith("2026-01-01T00:05")


def test_million_rows_import(tmp_path):
    csv_file = tmp_path / "million.csv"
    write(csv_file, 1_000_000)
    result = run_cli(
        "--config", str(config_for(tmp_path)), "contacts", "import", str(csv_file), timeout=900
    )  # bounded; about a minute on a quiet 2-core machine
    assert result.returncode == 0, result.stderr
    assert "imported 1000000 rows: 1000000 new contacts" in result.stdout
    assert count(tmp_path, "contact") == 1_000_000
    assert count(tmp_path, "consent") == 1_000_000  # two topics for every other contact


def test_bad_row_at_line_500000_imports_nothing(tmp_path):
    csv_file = tmp_path / "broken.csv"
    write(csv_file, 600_000, bad_line=500_000)
    result = run_cli(
        "--config", str(config_for(tmp_path)), "contacts", "import", str(csv_file), timeout=900
    )
    assert result.returncode == 1
    assert "line 500000" in result.stderr
    assert count(tmp_path, "contact") == 0
