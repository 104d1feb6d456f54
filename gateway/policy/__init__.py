"""Per-jurisdiction consent policy: facts in, verdict out (DESIGN §3-§5)."""

from gateway.policy.engine import Settings, decide
from gateway.policy.facts import (
    ALLOW_BASES,
    DENY_REASONS,
    PURPOSES,
    Consent,
    MessageFacts,
    RecipientFacts,
    Relationship,
    Suppression,
    Verdict,
    strictness,
)
from gateway.policy.jurisdiction import resolve_jurisdiction
from gateway.policy.loader import (
    Policy,
    PolicyError,
    default_policy_dir,
    describe,
    lint,
    load_policies,
)

__all__ = [
    "ALLOW_BASES",
    "DENY_REASONS",
    "PURPOSES",
    "Consent",
    "MessageFacts",
    "Policy",
    "PolicyError",
    "RecipientFacts",
    "Relationship",
    "Settings",
    "Suppression",
    "Verdict",
    "decide",
    "default_policy_dir",
    "describe",
    "lint",
    "load_policies",
    "resolve_jurisdiction",
    "strictness",
]
