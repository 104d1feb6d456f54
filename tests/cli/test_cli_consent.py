"""The consent-side commands as an operator runs them: real processes on a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.dates import date_days_ago

SIGNED_UP, BOUGHT = date_days_ago(60), date_days_ago(30)  # current whenever the suite runs
CONTACTS = (
    "email,country,source,consent_topics,consent_at,double_opt_in_at,consent_proof,"
    "customer_kind,last_purchase_at,purchase_categories\n"
    f"ann@example.cz,cz,signup-form,marketing,{SIGNED_UP},{SIGNED_UP}T00:10:00,ip=192.0.2.1,,,\n"
    f"bob@example.pl,pl,checkout,,,,,purchase,{BOUGHT},books\n"
)
MESSAGE = (
    "From: Shop <news@shop.example>\r\nSubject: OS: autumn sale\r\n"
    "X-Gatekeeper-Purpose: marketing\r\n\r\n"
    "Offers. Unsubscribe: %unsubscribe_url%\r\nShop s.r.o., IČO 12345678\r\n"
)


@pytest.fixture
def gk(tmp_path: Path):
    config = tmp_path / "gatekeeper.toml"
    config.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "gk.db"}"\n'
        '[identity]\nname = "Shop s.r.o."\nregistration = "12345678"\n'
        '[[streams]]\nsender = "receipts@shop.example"\npurpose = "transactional"\n'
    )
    (tmp_path / "contacts.csv").write_text(CONTACTS)

    def run(*args: str):
        return run_cli("--config", str(config), *args, cwd=tmp_path)

    assert run("contacts", "import", str(tmp_path / "contacts.csv")).returncode == 0
    return run


def verdicts(shown: str) -> dict[tuple[str, str], tuple[str, str]]:
    """`contacts show`'s verdict lines: (purpose, topic) -> (action, basis or reason)."""
    table = shown.split("verdicts (", 1)[1].splitlines()[1:]
    return {(p, t): (a, why) for p, t, a, why, *_ in (line.split() for line in table)}


def test_check_prints_verdict_rule_and_citation(gk, tmp_path):
    (tmp_path / "m.eml").write_text(MESSAGE)
    result = gk(
        "check",
        str(tmp_path / "m.eml"),
        "--to",
        "ann@example.cz",
        "bob@example.pl",
        "--format",
        "json",
    )
    assert result.returncode == 1  # someone is refused
    rows = {r["recipient"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert (rows["ann@example.cz"]["action"], rows["ann@example.cz"]["basis"]) == (
        "allow",
        "consent",
    )
    bob = rows["bob@example.pl"]
    assert (bob["action"], bob["reason"], bob["jurisdiction"]) == ("deny", "no-consent", "pl")
    assert bob["rule"].startswith("pl.") and "398" in bob["cite"]


def test_check_follows_the_stream_of_the_sender(gk, tmp_path):
    (tmp_path / "r.eml").write_text("From: receipts@shop.example\r\nSubject: hi\r\n\r\nx\r\n")
    result = gk(
        "check",
        str(tmp_path / "r.eml"),
        "--to",
        "bob@example.pl",
        "--from",
        "receipts@shop.example",
    )
    assert result.returncode == 0
    assert "purpose transactional (stream)" in result.stdout


def test_contacts_show_and_proof(gk):
    shown = gk("contacts", "show", "Ann@Example.CZ")
    assert shown.returncode == 0
    assert "consent   topic=marketing" in shown.stdout
    assert verdicts(shown.stdout)["marketing", "-"] == ("allow", "consent")
    proof = json.loads(gk("contacts", "proof", "ann@example.cz").stdout)
    assert [e["kind"] for e in proof["history"]] == ["grant", "confirm"]
    assert proof["consents"][0]["proof"] == "ip=192.0.2.1"


def test_suppress_add_list_remove_and_import(gk, tmp_path):
    assert gk("suppress", "add", "ann@example.cz", "--scope", "newsletter").returncode == 0
    listed = gk("suppress", "list").stdout.splitlines()
    assert listed[1].startswith("ann@example.cz,newsletter,unsubscribed,cli,")
    assert gk("suppress", "remove", "ann@example.cz").returncode == 0
    assert gk("suppress", "remove", "ann@example.cz").returncode == 1  # nothing left
    bulk = tmp_path / "s.csv"
    bulk.write_text("email,scope,reason\na@example.org,all,complaint\nbad,all,complaint\n")
    refused = gk("suppress", "import", str(bulk))
    assert refused.returncode == 1 and "line 3" in refused.stderr
    assert gk("suppress", "list").stdout.count("\n") == 1  # the header only
    bulk.write_text("email,scope,reason\na@example.org,all,complaint\n")
    assert "1 new suppressions" in gk("suppress", "import", str(bulk)).stdout


def test_forget_leaves_no_address_in_clear_and_keeps_it_suppressed(gk, tmp_path):
    assert gk("forget", "ann@example.cz").returncode == 0
    with sqlite3.connect(tmp_path / "gk.db") as db:
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for row in db.execute(f"SELECT * FROM {table}"):
                assert "ann@example.cz" not in repr(row).lower(), table
    shown = gk("contacts", "show", "ann@example.cz").stdout
    assert verdicts(shown)["transactional", "-"] == ("deny", "erased")
    gk("contacts", "import", str(tmp_path / "contacts.csv"))  # re-imported by mistake
    shown = gk("contacts", "show", "ann@example.cz").stdout
    assert verdicts(shown)["marketing", "-"] == ("deny", "erased")


def test_purge_and_policy_commands(gk):
    assert "purged 0 decisions" in gk("purge").stdout
    shown = gk("policy", "show", "CZ")
    assert shown.returncode == 0 and "cz.marketing.soft-opt-in" in shown.stdout
    assert gk("policy", "show", "xx").returncode == 1
    assert gk("policy", "lint").returncode == 0
