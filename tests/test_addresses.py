"""The fast path of address checking agrees with email-validator."""

from __future__ import annotations

import pytest

from gateway.addresses import AddressError, _validated, canonical, check

GOOD = [
    "a@example.com",
    "First.Last@Example.COM",
    "x+tag@sub.example.org",
    "o'neil@example.ie",
    "用户@例子.广告",
    "u@xn--bcher-kva.example",
    "a@b.co",
    # dotless hosts and special-use names: the upstream decides deliverability (issue 9)
    "root@localhost",
    "cron@myhost",
    "webmaster@localhost",
    "me@laptop.local",
    "a@x.test",
    "a@example",
]
BAD = [
    "no-at",
    "a@",
    "@example.com",
    "a..b@example.com",
    "a@-x.example",
    "a@xn--zz",
    "a@under_score",
    "<>",
    "",
    "a@exa mple.com",
    ".a@example.com",
    "a@example..com",
    "a" * 65 + "@example.com",
    "a@" + "b" * 64 + ".com",
    '"quoted"@example.com',
]


@pytest.mark.parametrize("address", GOOD)
def test_good_addresses_match_the_full_check(address):
    assert check(address) == _validated(address)


@pytest.mark.parametrize("address", BAD)
def test_bad_addresses_are_refused(address):
    with pytest.raises(AddressError):
        check(address)
    with pytest.raises(AddressError):
        check(address)  # the cached refusal of a domain is still a refusal


def test_canonical_folds_case_and_idna():
    assert canonical("First.Last@Example.COM") == "first.last@example.com"
    assert canonical("Jörg@Bücher.example") == "jörg@xn--bcher-kva.example"
