"""The parser never raises: malformed and hostile variants of real reports read as something.

A report mailbox takes mail from anyone, so every input must come back as a Report; the
worst it may be is kind "unknown" with a why.
"""

from __future__ import annotations

import base64

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.reports import KINDS, MAX_BYTES, OUTCOMES, Report, parse

from .corpus import DATA, manifest

SAMPLES = [(DATA / name).read_bytes() for name in sorted(manifest())]
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _sound(report: Report) -> None:
    assert isinstance(report, Report)
    assert report.kind in KINDS
    # "unreadable" is the last-resort guard in parse(): reaching it means a bug here.
    assert not report.why.startswith("unreadable"), report.why
    for recipient in report.recipients:
        assert recipient.outcome in OUTCOMES
        assert len(recipient.diagnostic) <= 500


@FUZZ
@given(st.sampled_from(SAMPLES), st.floats(0, 1))
def test_truncated(sample: bytes, fraction: float) -> None:
    _sound(parse(sample[: int(len(sample) * fraction)]))


@FUZZ
@given(st.sampled_from(SAMPLES), st.integers(0, 10_000), st.binary(min_size=1, max_size=64))
def test_junk_spliced_in(sample: bytes, at: int, junk: bytes) -> None:
    at %= len(sample) + 1
    _sound(parse(sample[:at] + junk + sample[at:]))


@FUZZ
@given(st.sampled_from(SAMPLES))
def test_boundaries_removed(sample: bytes) -> None:
    mangled = sample.replace(b"\n--", b"\n").replace(b"boundary=", b"boundary-gone=")
    _sound(parse(mangled))


@FUZZ
@given(st.sampled_from(SAMPLES), st.binary(max_size=200))
def test_eight_bit_junk_and_broken_base64(sample: bytes, junk: bytes) -> None:
    high = bytes(b | 0x80 for b in junk)
    broken = b"Content-Transfer-Encoding: base64\n\n" + base64.b64encode(sample)[:-3] + b"!*"
    _sound(parse(high + sample))
    _sound(parse(sample.replace(b"Content-Type: message/delivery-status\n", broken)))
    _sound(parse(sample.replace(b"Content-Type: message/feedback-report\n", broken)))


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes(data: bytes) -> None:
    _sound(parse(data))


def test_huge_headers_and_nesting_stay_bounded() -> None:
    huge = b"Subject: " + b"x" * (MAX_BYTES * 2) + b"\n\nbody\n"
    _sound(parse(huge))
    folded = b"X-Junk: a\n" + b" b\n" * 200_000 + b"\n\n"
    _sound(parse(folded))
    many = b"".join(b"X-H%d: v\n" % i for i in range(50_000)) + b"\n\n"
    _sound(parse(many))
    nested = SAMPLES[0]
    for depth in range(30):
        nested = (
            (
                b"Content-Type: multipart/report; report-type=delivery-status; boundary=b%d\n\n"
                b"--b%d\nContent-Type: message/rfc822\n\n" % (depth, depth)
            )
            + nested
            + b"\n--b%d--\n" % depth
        )
    _sound(parse(nested))


def test_empty_and_headerless() -> None:
    for data in (b"", b"\n\n", b"no headers at all", b"\xff\xfe\x00", b"Content-Type: multipart/"):
        report = parse(data)
        _sound(report)
        assert report.kind == "unknown"


def test_base64_status_cut_one_character_past_a_quantum() -> None:
    """Found by test_truncated: 4k+1 base64 characters made binascii raise."""
    sample = (DATA / "written" / "dsn_base64_status.eml").read_bytes()
    _sound(parse(sample[: int(len(sample) * 0.6171875)]))
