"""VERP addresses and reference header values: signed, opaque, compact, case-proof."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.reports import verp
from gateway.reports.verp import VerpError

KEY = b"k" * 32
OLD_KEY = b"o" * 32
QUEUE_ID = "0192abcdef0123456789"


def test_verp_round_trip_names_the_queue_id_and_the_recipient() -> None:
    address = verp.verp_address(KEY, QUEUE_ID, "joe@example.com", "bounces.example.com")
    local, _, domain = address.partition("@")
    assert domain == "bounces.example.com"
    assert local.startswith("b+")
    assert len(local) <= verp.LOCAL_PART_MAX
    assert "joe" not in address  # opaque: the recipient is a keyed digest
    claims, key = verp.read_verp([KEY], address)
    assert claims.queue_id == QUEUE_ID
    assert key == KEY
    assert claims.names(key, "joe@example.com")
    assert not claims.names(key, "jane@example.com")


def test_a_remote_mta_that_changes_case_does_not_break_it() -> None:
    address = verp.verp_address(KEY, QUEUE_ID, "joe@example.com", "bounces.example.com")
    claims, _ = verp.read_verp([KEY], address.upper())
    assert claims.queue_id == QUEUE_ID


def test_rotated_keys_still_verify_and_say_which_key() -> None:
    address = verp.verp_address(OLD_KEY, QUEUE_ID, "joe@example.com", "b.example")
    claims, key = verp.read_verp([KEY, OLD_KEY], address)
    assert key == OLD_KEY
    assert claims.names(key, "joe@example.com")


@pytest.mark.parametrize(
    "address",
    [
        "joe@example.com",  # no b+ prefix
        "b+@b.example",
        "b+notbase32!!@b.example",
        "b+" + "a" * 70 + "@b.example",
        "b+aaaaaaaa@b.example",  # base32 but the wrong length
    ],
)
def test_malformed_addresses_are_refused(address: str) -> None:
    with pytest.raises(VerpError):
        verp.read_verp([KEY], address)


def test_a_forged_or_wrongly_keyed_token_is_refused() -> None:
    address = verp.verp_address(KEY, QUEUE_ID, "joe@example.com", "b.example")
    with pytest.raises(VerpError, match="signature"):
        verp.read_verp([OLD_KEY], address)
    local, _, domain = address.partition("@")
    flipped = local[:-1] + ("a" if local[-1] != "a" else "b")
    with pytest.raises(VerpError):
        verp.read_verp([KEY], f"{flipped}@{domain}")


def test_a_reference_is_not_a_verp_token_and_back() -> None:
    ref = verp.reference(KEY, QUEUE_ID, "joe@example.com")
    claims, key = verp.read_reference([KEY], ref)
    assert claims.queue_id == QUEUE_ID and claims.names(key, "joe@example.com")
    with pytest.raises(VerpError, match="signature"):
        verp.read_verp([KEY], f"b+{ref}@b.example")
    token = verp.verp_address(KEY, QUEUE_ID, "joe@example.com", "b.example")[2:].split("@")[0]
    with pytest.raises(VerpError, match="signature"):
        verp.read_reference([KEY], token)


@pytest.mark.parametrize("queue_id", ["", "xyz", "0192abcdef", "0192abcdef0123456789ab"])
def test_queue_ids_not_of_the_stores_form_are_refused(queue_id: str) -> None:
    with pytest.raises(VerpError):
        verp.verp_address(KEY, queue_id, "joe@example.com", "b.example")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_reading_any_text_raises_nothing_but_verp_error(text: str) -> None:
    for read in (verp.read_verp, verp.read_reference):
        with contextlib.suppress(VerpError):
            read([KEY], text)
