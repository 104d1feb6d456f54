"""Property-based tests (hypothesis): hostile input raises only the documented errors.

The address canonicaliser raises AddressError, the token codec TokenError, the CSV importer
RowError; the classifier never raises; the DSN writer's report parses as multipart/report
with exactly the failed recipients in message/delivery-status, whatever the replies say.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import re
import string
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.addresses import AddressError, canonical, check
from gateway.consent.contacts import COLUMNS, RowError, read_contacts
from gateway.consent.tokens import TokenError, issue, verify
from gateway.pipeline.classify import classify
from gateway.pipeline.delivery.dsn import report_message
from gateway.pipeline.receive import parse_headers
from gateway.policy.facts import PURPOSES
from gateway.store.records import SpoolMessage, SpoolRecipient

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEYS = [b"k" * 32, b"old-key-still-verifies"]
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)

# Text an attacker controls: printable, controls (CR, LF, NUL), non-ASCII, surrogate-free.
hostile_text = st.text(
    st.characters(blacklist_categories=("Cs",)) | st.sampled_from('\r\n\x00@<>"\\ .:;,'),
    max_size=80,
)
local = st.from_regex(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,70}", fullmatch=True)
domain = st.from_regex(r"[A-Za-z0-9.-]{1,70}|[a-z]{1,10}\.[^\x00-\x20]{1,20}", fullmatch=True)
addresses = hostile_text | st.builds(lambda a, b: f"{a}@{b}", local, domain)


@PROPERTY
@given(addresses)
def test_address_check_raises_only_address_error(address):
    try:
        checked = check(address)
    except AddressError:
        return
    # What passes is usable on the wire and as a key: no line breaks, no NUL, one @ split.
    assert not set(checked) & set("\r\n\x00")
    assert canonical(checked) == canonical(canonical(checked))


@PROPERTY
@given(addresses)
def test_canonical_raises_only_address_error(address):
    with contextlib.suppress(AddressError):
        canonical(address)


scopes = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60).filter(
    lambda s: len(s.encode()) <= 255
)
recipients = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=120)


@PROPERTY
@given(recipients, scopes, st.integers(0, 59))
def test_token_round_trip(recipient, scope, age_days):
    token = issue(KEYS, recipient, scope, NOW - timedelta(days=age_days))
    claims = verify(KEYS[::-1], token, NOW)
    assert (claims.recipient, claims.scope) == (recipient, scope)


@PROPERTY
@given(recipients, scopes, st.data())
def test_mutated_token_raises_only_token_error(recipient, scope, data):
    token = issue(KEYS, recipient, scope, NOW)
    mutation = data.draw(
        st.sampled_from(["flip", "cut", "extend", "replace", "insert"]), label="mutation"
    )
    at = data.draw(st.integers(0, len(token) - 1), label="at")
    alphabet = string.ascii_letters + string.digits + "-_=+/.%\x00 é"
    char = data.draw(st.sampled_from(alphabet), label="char")
    mutated = {
        "flip": token[:at] + char + token[at + 1 :],
        "cut": token[:at],
        "extend": token + char * data.draw(st.integers(1, 8), label="n"),
        "replace": data.draw(hostile_text, label="text"),
        "insert": token[:at] + char + token[at:],
    }[mutation]
    try:
        claims = verify(KEYS, mutated, NOW)
    except TokenError:
        return
    # Only the untouched token (or an identical spelling) may verify.
    assert mutated == token
    assert claims.recipient == recipient


csv_cell = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
csv_header = st.lists(st.sampled_from(COLUMNS) | csv_cell, min_size=0, max_size=6).map(
    lambda cols: ",".join(cols)
)
csv_rows = st.lists(st.lists(csv_cell, max_size=8).map(lambda r: ",".join(r)), max_size=6)


# A bare CR ends no line here: see test_csv_with_cr_line_ends_raises_row_error.
@PROPERTY
@given(csv_header, csv_rows, st.sampled_from(["\n", "\r\n"]))
def test_csv_import_raises_only_row_error(header, rows, newline):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "contacts.csv"
        path.write_text(newline.join([header, *rows]), encoding="utf-8")
        with contextlib.suppress(RowError):
            list(read_contacts(path))


@PROPERTY
@given(st.binary(max_size=200).filter(lambda raw: re.search(rb"\r(?!\n)", raw) is None))
def test_csv_import_of_random_bytes_raises_only_row_error(raw):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "contacts.csv"
        path.write_bytes(b"email,country,consent_topics\n" + raw)
        with contextlib.suppress(RowError):
            list(read_contacts(path))


@pytest.mark.parametrize(
    "raw",
    [b"email,country\r\rfan@example.org,cz\r", b"email,country\nfan@example.org,c\rz\n"],
    ids=["cr-line-ends", "cr-inside-a-field"],
)
def test_csv_with_cr_line_ends_raises_row_error(tmp_path, raw):
    path = tmp_path / "contacts.csv"
    path.write_bytes(raw)
    with contextlib.suppress(RowError):
        list(read_contacts(path))


header_names = st.sampled_from(
    [
        "X-Gatekeeper-Purpose",
        "X-Gatekeeper-Topic",
        "X-Gatekeeper-Category",
        "X-Gatekeeper-Partner",
        "X-PM-Message-Stream",
        "Precedence",
        "List-Id",
        "Subject",
        "Auto-Submitted",
    ]
)
header_values = hostile_text | st.sampled_from([*PURPOSES, "=?utf-8?q?marketing?=", "bulk"])
header_blocks = st.lists(st.tuples(header_names, header_values), max_size=8).map(
    lambda fields: "".join(
        f"{name}: {' '.join(value.split())}\r\n" for name, value in fields
    ).encode("utf-8", "surrogateescape")
)


@PROPERTY
@given(
    header_blocks | st.binary(max_size=300),
    st.none() | st.sampled_from(PURPOSES) | hostile_text,
    st.sampled_from(PURPOSES),
    st.booleans(),
    st.booleans(),
)
def test_classifier_never_raises(block, stream_purpose, unknown, promotional, reclassify):
    result = classify(
        parse_headers(block + b"\r\nbody\r\n"),
        stream_purpose=stream_purpose if stream_purpose in PURPOSES else None,
        stream_topic=None,
        promotional=lambda: promotional,
        unknown_purpose=unknown,
        reclassify_promotional=reclassify,
    )
    assert result.purpose in PURPOSES


# An upstream's reply text: anything it may send, multi-line replies included.
replies = st.builds(
    lambda code, text: f"{code} {text}",
    st.sampled_from(["550", "551", "552", "553", "554", "421", "999", "abc"]),
    hostile_text,
)
failed_recipients = st.lists(
    st.tuples(st.from_regex(r"[a-z0-9]{1,12}@[a-z]{1,10}\.example", fullmatch=True), replies),
    min_size=1,
    max_size=4,
    unique_by=lambda pair: pair[0],
)


def _dsn(failed, original: bytes) -> email.message.Message:
    spooled = SpoolMessage(
        id="q1",
        received_at=0.0,
        sender="app@example.com",
        data=original,
        recipients=[SpoolRecipient(address) for address, _ in failed],
        message_id="m@example.com",
    )
    report = report_message(spooled, failed, "gw.test", 0.0)
    return email.message_from_bytes(report.data, policy=email.policy.compat32)


def _status_blocks(parsed) -> list[list[tuple[str, str]]]:
    (status,) = [p for p in parsed.walk() if p.get_content_type() == "message/delivery-status"]
    return [list(block.items()) for block in status.get_payload()]


@PROPERTY
@given(failed_recipients, st.binary(max_size=200))
def test_dsn_is_a_report_naming_the_failed_recipients(failed, original):
    parsed = _dsn(failed, b"Subject: x\r\n" + original)
    assert parsed.get_content_type() == "multipart/report"
    assert parsed.get_param("report-type") == "delivery-status"
    blocks = _status_blocks(parsed)
    finals = [v for b in blocks for k, v in b if k.lower() == "final-recipient"]
    assert sorted(" ".join(v.split()) for v in finals) == sorted(
        f"rfc822; {address}" for address, _ in failed
    )


# Replies as one physical line: whatever the text, it stays one Diagnostic-Code field.
one_line_replies = st.builds(
    lambda code, text: f"{code} {text}",
    st.sampled_from(["550", "553", "554"]),
    st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=80),
)


@PROPERTY
@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[a-z0-9]{1,12}@[a-z]{1,10}\.example", fullmatch=True),
            one_line_replies,
        ),
        min_size=1,
        max_size=4,
        unique_by=lambda pair: pair[0],
    )
)
def test_dsn_fields_per_recipient_are_not_injected(failed):
    blocks = _status_blocks(_dsn(failed, b"Subject: x\r\n\r\nbody\r\n"))
    per_recipient = [b for b in blocks if any(k.lower() == "final-recipient" for k, _ in b)]
    assert len(per_recipient) == len(failed)
    for block in per_recipient:
        names = [k.lower() for k, _ in block]
        assert sorted(names) == ["action", "diagnostic-code", "final-recipient", "status"]
        assert dict((k.lower(), v) for k, v in block)["action"] == "failed"
