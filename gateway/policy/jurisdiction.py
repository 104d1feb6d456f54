"""Which policy applies to a recipient (docs/design.md §5)."""

from __future__ import annotations

from collections.abc import Collection

EU_BASELINE = "eu"

EU_EEA: frozenset[str] = frozenset(
    {
        # EU member states
        "at", "be", "bg", "hr", "cy", "cz", "dk", "ee", "fi", "fr", "de", "gr", "hu", "ie",
        "it", "lv", "lt", "lu", "mt", "nl", "pl", "pt", "ro", "sk", "si", "es", "se",
        # EEA members outside the EU, bound by the same ePrivacy and GDPR rules
        "is", "li", "no",
    }
)  # fmt: skip

# Country codes whose policy file has another name; the UK's ccTLD is not its ISO code.
_ALIASES: dict[str, str] = {"gb": "uk"}


def policy_for_country(country: str, available: Collection[str], default: str) -> str:
    """The policy code for an ISO 3166-1 alpha-2 country code (or a policy code itself)."""
    code = country.strip().lower()
    code = _ALIASES.get(code, code)
    if code in available:
        return code
    if code in EU_EEA and EU_BASELINE in available:
        return EU_BASELINE
    return default.lower()


def _cctld(address: str) -> str | None:
    tld = address.rpartition("@")[2].rstrip(".").rpartition(".")[2].lower()
    # Two letters is a country-code TLD; .com, .org and the like say nothing about a country.
    return tld if len(tld) == 2 and tld.isascii() and tld.isalpha() else None


def resolve_jurisdiction(
    address: str, country: str | None, available: Collection[str], default: str = EU_BASELINE
) -> str:
    """Contact country, else the address's ccTLD, else the default; always a policy code."""
    origin = country or _cctld(address)
    return policy_for_country(origin, available, default) if origin else default.lower()
