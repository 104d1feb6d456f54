"""Per-jurisdiction consent policy: facts in, verdict out (docs/design.md §3-§5)."""

from gateway.policy.bases import ALLOW_BASES, BASES
from gateway.policy.describe import describe
from gateway.policy.engine import Settings, decide
from gateway.policy.facts import (
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
from gateway.policy.loader import default_policy_dir, lint, load_policies
from gateway.policy.requirements import REQUIREMENTS
from gateway.policy.rules import Basis, Policy, PolicyError, Requirement

__all__ = [
    "ALLOW_BASES",
    "BASES",
    "DENY_REASONS",
    "PURPOSES",
    "REQUIREMENTS",
    "Basis",
    "Consent",
    "MessageFacts",
    "Policy",
    "PolicyError",
    "RecipientFacts",
    "Relationship",
    "Requirement",
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
