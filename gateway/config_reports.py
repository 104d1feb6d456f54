"""The `[bounces]` and `[complaints]` sections: reports that come back (docs/design.md §8)
and the complaint-rate brake. Kept apart so config.py stays one screenful of sections."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class BouncesConfig:
    address: str | None = None
    """The report mailbox (`postmaster@bounces.example.com`): reports accepted from anyone,
    the null sender included, never relayed."""
    domain: str | None = None
    """With it, relayed mail gets the envelope sender `b+TOKEN@DOMAIN` (VERP) and every
    address at the domain is a report mailbox."""
    soft_limit: int = 5
    """Soft bounces of one address within `soft_days` that make a hard-bounce suppression."""
    soft_days: int = 7

    def problems(self) -> list[str]:
        found = []
        if self.address is not None and "@" not in self.address:
            found.append("'bounces.address' must be an address (local@domain)")
        if self.domain is not None and ("@" in self.domain or not self.domain.strip(".")):
            found.append("'bounces.domain' must be a domain name")
        if self.soft_limit < 1 or self.soft_days < 1:
            found.append("'bounces.soft_limit' and 'bounces.soft_days' must be positive")
        return found


@dataclass
class ComplaintsConfig:
    warn_rate: float = 0.001
    """Complaints per delivered non-transactional message over 24 h that log a warning
    (Gmail and Yahoo ask bulk senders to stay under 0.1 %)."""
    pause_rate: float = 0.003
    """Above it (the 0.3 % they never want reached) the sender domain's non-transactional
    mail is answered 451 4.7.1 until `gatekeeper senders resume DOMAIN`."""
    min_volume: int = 1000
    """Deliveries in the window below which the rate is too noisy to pause on."""

    def problems(self) -> list[str]:
        found = []
        if not 0 < self.warn_rate <= 1 or not 0 < self.pause_rate <= 1:
            found.append("'complaints.warn_rate' and 'complaints.pause_rate' must be in (0, 1]")
        if self.min_volume < 1:
            found.append("'complaints.min_volume' must be positive")
        return found
