"""The image's hashed locks (docker/requirements.lock, docker/build.lock) agree with
pyproject.toml: every dependency pinned at a version its floor admits, every pin hashed, and
the Dockerfile installs them with --require-hashes. Offline: files only."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.support.packaging import ROOT

DOCKER = ROOT / "docker"


def pins(lock: str) -> dict[str, tuple[Version, int]]:
    """name -> (pinned version, number of hashes)."""
    text = (DOCKER / lock).read_text()
    found: dict[str, tuple[Version, int]] = {}
    for block in re.split(r"\n(?=\S)", text):
        match = re.match(r"([A-Za-z0-9_.\-]+)==(\S+)", block)
        if match:
            found[canonicalize_name(match.group(1))] = (
                Version(match.group(2)),
                block.count("--hash=sha256:"),
            )
    return found


def test_every_dependency_is_pinned_within_its_floor_and_hashed() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    wanted += [Requirement(r) for r in project["optional-dependencies"]["fast"]]
    locked = pins("requirements.lock")
    for requirement in wanted:
        version, _ = locked[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version), (requirement, version)
    assert all(hashes >= 1 for _, hashes in locked.values())
    build = pins("build.lock")
    assert "setuptools" in build and all(hashes >= 1 for _, hashes in build.values())


def test_dockerfile_installs_only_hashed_files() -> None:
    text = (DOCKER / "Dockerfile").read_text().replace("\\\n", " ")
    installs = re.findall(r"pip install [^&]*", text)
    assert any("--require-hashes -r build.lock" in line for line in installs)
    assert any(
        "--require-hashes --no-build-isolation -r requirements.lock" in line for line in installs
    )
    # the gateway itself: from the source tree, nothing fetched for it
    assert any("--no-deps --no-build-isolation ." in line for line in installs)
