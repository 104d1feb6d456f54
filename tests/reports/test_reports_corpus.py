"""Every report in the corpus reads as its manifest says; the classifier's measured quality."""

from __future__ import annotations

from collections import Counter

import pytest

from gateway.reports import OUTCOMES, parse
from gateway.reports.model import ARF, AUTO_REPLY, HARD

from .corpus import DATA, HIDDEN, files, manifest

# Measured on this corpus (docs/reports.md); the classifier's rules were written while
# reading it, so these are floors against regressions, not a held-out estimate.
PRECISION_FLOOR = 0.95
RECALL_FLOOR = 0.95
HARD_PRECISION_FLOOR = 0.98  # a wrong `hard` suppresses someone for good

EXPECTED = manifest()


def _read(name: str) -> dict[str, str]:
    report = parse((DATA / name).read_bytes())
    return {(r.address or HIDDEN): r.outcome for r in report.recipients}


def test_every_file_is_in_the_manifest_and_the_corpus_is_big_enough() -> None:
    assert sorted(EXPECTED) == files()
    kinds = Counter(str(entry["kind"]) for entry in EXPECTED.values())
    assert len(EXPECTED) >= 100
    assert kinds[ARF] >= 10
    assert kinds[AUTO_REPLY] >= 5


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_report_reads_as_expected(name: str) -> None:
    entry = EXPECTED[name]
    report = parse((DATA / name).read_bytes())
    assert report.kind == entry["kind"], report.why
    got = {(r.address or HIDDEN) for r in report.recipients}
    assert got == set(entry["recipients"]), report.recipients  # type: ignore[arg-type]
    for outcome in report.recipients:
        assert outcome.outcome in OUTCOMES
        assert outcome.why


def _pairs() -> tuple[set[tuple[str, str, str]], set[tuple[str, str, str]]]:
    expected: set[tuple[str, str, str]] = set()
    predicted: set[tuple[str, str, str]] = set()
    for name, entry in EXPECTED.items():
        recipients: dict[str, str] = entry["recipients"]  # type: ignore[assignment]
        expected |= {(name, a, o) for a, o in recipients.items()}
        predicted |= {(name, a, o) for a, o in _read(name).items()}
    return expected, predicted


def test_precision_and_recall_on_the_corpus() -> None:
    expected, predicted = _pairs()
    right = expected & predicted
    precision = len(right) / len(predicted)
    recall = len(right) / len(expected)
    hard_predicted = {p for p in predicted if p[2] == HARD}
    hard_precision = len(right & hard_predicted) / len(hard_predicted)
    print(f"precision {precision:.3f} recall {recall:.3f} hard precision {hard_precision:.3f}")
    assert precision >= PRECISION_FLOOR
    assert recall >= RECALL_FLOOR
    assert hard_precision >= HARD_PRECISION_FLOOR


def test_the_evidence_of_the_gateways_own_mail_comes_back() -> None:
    # Every written bounce and complaint returns the original's headers, which carry the
    # reference header and the VERP envelope sender the gateway put there.
    report = parse((DATA / "written" / "arf_abuse_redacted.eml").read_bytes())
    assert report.recipients[0].address is None
    assert report.ref == "aeazfk6n54asgrlhreewiamgxvnscy26iajaipyc7m"
    assert report.return_path.startswith("b+")
    assert report.original_message_id == "a2@shop.example"
    assert report.feedback_type == "abuse"
    assert report.source_ip == "203.0.113.5"
    assert report.reported_domain == "shop.example"
    dsn = parse((DATA / "written" / "postfix_user_unknown.eml").read_bytes())
    (recipient,) = dsn.recipients
    assert dsn.reporting_mta == "mx1.relay.example"
    assert dsn.original_message_id == "postfix_user_unknown.eml@shop.example"
    assert dsn.ref and dsn.return_path.endswith("@bounces.shop.example")
    assert recipient.original == "alice@dest.example"
    assert recipient.action == "failed"
    assert recipient.status == "5.1.1"
    assert recipient.remote_mta == "mx.dest.example"
    assert "User unknown in local recipient table" in recipient.diagnostic
