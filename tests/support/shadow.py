"""A candidate policy set for the shadow tests and bench: the shipped policies with Czech
soft opt-in lasting 12 months after a purchase instead of 24."""

from __future__ import annotations

import shutil
from pathlib import Path

from gateway.policy import default_policy_dir

LIVE_CZ = """[marketing.soft-opt-in]
id = "cz.marketing.soft-opt-in"
cite = "Act 480/2004 Coll. §7(3)"
window_months = { purchase = 24 }
"""
STRICTER_CZ = """[marketing.soft-opt-in]
id = "cz.marketing.soft-opt-in"
cite = "Act 480/2004 Coll. §7(3) (candidate: 12 months)"
window_months = { purchase = 12 }
"""


def candidate_set(directory: Path) -> Path:
    """The candidate set written to `directory` (which must not exist yet)."""
    shutil.copytree(default_policy_dir(), directory)
    cz = directory / "cz.toml"
    text = cz.read_text()
    assert LIVE_CZ in text
    cz.write_text(text.replace(LIVE_CZ, STRICTER_CZ))
    return directory
