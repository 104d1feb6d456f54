"""Password hashes for SMTP AUTH users and dashboard users."""

from __future__ import annotations

import pytest

from gateway.passwords import check_hash_format, hash_password, verify_password


@pytest.mark.parametrize("scheme", ["argon2", "scrypt"])
def test_round_trip(scheme: str) -> None:
    encoded = hash_password("correct horse", scheme)
    assert check_hash_format(encoded)
    assert verify_password("correct horse", encoded)
    assert not verify_password("wrong horse", encoded)


def test_unknown_forms_never_verify() -> None:
    assert not check_hash_format("plain-text")
    assert not verify_password("plain-text", "plain-text")
    assert not verify_password("x", "$scrypt$ln=15,r=8$broken")
    with pytest.raises(ValueError, match="unknown password scheme"):
        hash_password("x", "md5")
