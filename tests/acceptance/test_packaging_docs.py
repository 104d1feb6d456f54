"""docs/quickstart/ stays copy-pasteable: every gatekeeper.toml snippet loads as a config, every
purpose it names exists, and the Python and Ruby snippets parse."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.policy import PURPOSES

QUICKSTART = Path(__file__).resolve().parents[2] / "docs" / "quickstart"
PAGES = sorted(QUICKSTART.glob("*.md"))
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(page: Path, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(page.read_text()) if lang == language]


def test_every_framework_has_a_page() -> None:
    assert {p.stem for p in PAGES} >= {"django", "rails", "laravel", "node", "cron"}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_config_snippets_load(page: Path, tmp_path: Path) -> None:
    snippets = blocks(page, "toml")
    assert snippets, f"{page.name} shows no gatekeeper.toml lines"
    for snippet in snippets:
        path = tmp_path / "gatekeeper.toml"
        path.write_text(snippet)
        config = load_config(str(path), environ={})
        assert all(stream.purpose in PURPOSES for stream in config.streams)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_declared_purposes_exist(page: Path) -> None:
    text = page.read_text()
    named = re.findall(r"X-Gatekeeper-Purpose[\"']?\s*(?:=>|:|,)\s*[\"']?([a-z-]+)", text)
    assert named, f"{page.name} never shows the header"
    assert set(named) <= set(PURPOSES)


def test_python_snippets_compile() -> None:
    for snippet in blocks(QUICKSTART / "django.md", "python"):
        compile(snippet, "django.md", "exec")


def test_ruby_snippets_parse(tmp_path: Path) -> None:
    ruby = shutil.which("ruby")
    if ruby is None:
        pytest.skip("ruby is not installed (scripts/test.sh installs it)")
    for n, snippet in enumerate(blocks(QUICKSTART / "rails.md", "ruby")):
        path = tmp_path / f"snippet{n}.rb"
        path.write_text(snippet)
        done = subprocess.run([ruby, "-c", str(path)], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
