from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest

from gateway.consent.tokens import (
    TokenClaims,
    TokenError,
    TokenExpired,
    TokenMalformed,
    issue,
    mailto_address,
    token_from_mail,
    verify,
)

KEY = b"k" * 32
OLD_KEY = b"o" * 32
NOW = datetime(2025, 3, 1, 12, 30, 15, tzinfo=UTC)


def test_round_trip() -> None:
    token = issue([KEY], "alice@example.com", "newsletter", NOW)
    claims = verify([KEY], token, NOW + timedelta(days=1))
    assert claims == TokenClaims("alice@example.com", "newsletter", NOW)


def test_unicode_recipient_and_scope_round_trip() -> None:
    token = issue([KEY], "jiří@příklad.cz", "novinky", NOW)
    assert verify([KEY], token, NOW).recipient == "jiří@příklad.cz"


def test_token_is_url_and_local_part_safe() -> None:
    for recipient in ("a@b.c", "someone.with.a.long.name+tag@example.org", "ü@ü.de"):
        token = issue([KEY], recipient, "all", NOW)
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token), token


def test_token_is_compact() -> None:
    token = issue([KEY], "alice@example.com", "all", NOW)
    # 6 bytes header + scope + recipient + 16-byte MAC, base64url without padding
    assert len(token) == -(-(6 + 3 + 17 + 16) * 4 // 3)


def test_key_rotation_accepts_old_key_and_signs_with_first() -> None:
    old_token = issue([OLD_KEY], "bob@example.com", "marketing", NOW)
    assert verify([KEY, OLD_KEY], old_token, NOW).recipient == "bob@example.com"
    new_token = issue([KEY, OLD_KEY], "bob@example.com", "marketing", NOW)
    assert verify([KEY], new_token, NOW).scope == "marketing"
    with pytest.raises(TokenMalformed):
        verify([OLD_KEY], new_token, NOW)


def test_retired_key_refused() -> None:
    token = issue([OLD_KEY], "bob@example.com", "all", NOW)
    with pytest.raises(TokenMalformed):
        verify([KEY], token, NOW)


def _raw(token: str) -> bytearray:
    return bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


def _enc(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_forged_payload_refused() -> None:
    raw = _raw(issue([KEY], "alice@example.com", "newsletter", NOW))
    raw[7:11] = b"eve!"  # change the scope, keep the MAC
    with pytest.raises(TokenMalformed):
        verify([KEY], _enc(bytes(raw)), NOW)


def test_flipped_mac_bit_refused() -> None:
    raw = _raw(issue([KEY], "alice@example.com", "newsletter", NOW))
    raw[-1] ^= 1
    with pytest.raises(TokenMalformed):
        verify([KEY], _enc(bytes(raw)), NOW)


@pytest.mark.parametrize("cut", [1, 4, 20, 40])
def test_truncated_token_refused(cut: int) -> None:
    token = issue([KEY], "alice@example.com", "newsletter", NOW)
    with pytest.raises(TokenMalformed):
        verify([KEY], token[:-cut], NOW)


@pytest.mark.parametrize("bad", ["", "abc", "a+b/c=", "x" * 50 + "=", "ünïcode" * 8, "A" * 33])
def test_garbage_refused(bad: str) -> None:
    with pytest.raises(TokenMalformed):
        verify([KEY], bad, NOW)


def test_non_canonical_encoding_refused() -> None:
    # 41 raw bytes -> 55 characters, whose last one carries 2 unused bits
    token = issue([KEY], "alice@example.co", "all", NOW)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = token[:-1] + alphabet[alphabet.index(token[-1]) ^ 1]
    assert _raw(twin) == _raw(token)
    with pytest.raises(TokenMalformed):
        verify([KEY], twin, NOW)


def test_expired_token() -> None:
    token = issue([KEY], "alice@example.com", "all", NOW)
    assert verify([KEY], token, NOW + timedelta(days=90)).scope == "all"
    with pytest.raises(TokenExpired) as caught:
        verify([KEY], token, NOW + timedelta(days=90, seconds=1))
    assert caught.value.claims.recipient == "alice@example.com"
    assert isinstance(caught.value, TokenError)


def test_valid_for_at_least_sixty_days_even_with_short_max_age() -> None:
    token = issue([KEY], "alice@example.com", "all", NOW)
    assert verify([KEY], token, NOW + timedelta(days=60), max_age=timedelta(days=60))
    with pytest.raises(ValueError):
        verify([KEY], token, NOW, max_age=timedelta(days=30))
    with pytest.raises(ValueError):
        verify([], token, NOW)


def test_forged_and_expired_reports_malformed() -> None:
    token = issue([OLD_KEY], "alice@example.com", "all", NOW)
    with pytest.raises(TokenMalformed):
        verify([KEY], token, NOW + timedelta(days=400))


def test_issue_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        issue([], "a@b.c", "all", NOW)
    with pytest.raises(ValueError):
        issue([KEY], "a@b.c", "all", datetime(2025, 1, 1))
    with pytest.raises(ValueError):
        issue([KEY], "", "all", NOW)
    with pytest.raises(ValueError):
        issue([KEY], "a@b.c", "x" * 256, NOW)


def test_mailto_address_in_local_part_when_it_fits() -> None:
    token = issue([KEY], "a@b.c", "all", NOW)
    address, subject = mailto_address(token, "unsub.example.com")
    local = address.split("@")[0]
    assert subject is None
    assert address == f"unsubscribe+{token}@unsub.example.com"
    assert len(local) <= 64
    assert token_from_mail(local, None) == token


def test_mailto_address_falls_back_to_subject_over_64_octets() -> None:
    token = issue([KEY], "alice.longname@example.com", "newsletter", NOW)
    assert len("unsubscribe+" + token) > 64
    address, subject = mailto_address(token, "unsub.example.com")
    assert (address, subject) == ("unsubscribe@unsub.example.com", token)
    assert token_from_mail("unsubscribe", token) == token
    assert token_from_mail("Unsubscribe", f"Re: {token}") == token


def test_local_part_boundary_is_64_octets() -> None:
    assert mailto_address("A" * 52, "d.example")[1] is None
    assert mailto_address("A" * 53, "d.example")[1] == "A" * 53


def test_token_from_mail_ignores_other_mail() -> None:
    token = issue([KEY], "alice@example.com", "all", NOW)
    assert token_from_mail("postmaster", token) is None
    assert token_from_mail("unsubscribe", None) is None
    assert token_from_mail("unsubscribe", "please remove me") is None
    assert token_from_mail("unsubscribe+short", None) is None
    assert token_from_mail("unsubscribe+" + token[:-1] + "!", None) is None
