"""The web adapter stands on the core, not on the other adapters: importing it loads no CLI,
no process wiring, no SMTP server and no acceptance pipeline, and no import in it hides
inside a function to dodge a cycle."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import gateway.web

FORBIDDEN = (
    "gateway.cli",
    "gateway.cli_consent",
    "gateway.app",
    "gateway.smtp",
    "gateway.pipeline.accept",
)
WEB = Path(gateway.web.__file__).parent


def loaded_by(module: str) -> list[str]:
    script = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(result.stdout)


def test_importing_the_api_loads_no_other_adapter() -> None:
    for module in ("gateway.web.api", "gateway.web.ops"):
        loaded = loaded_by(module)
        assert module in loaded
        assert [m for m in loaded if m.startswith(FORBIDDEN)] == [], module


def test_no_function_level_imports_in_the_web_package() -> None:
    hidden = []
    for path in sorted(WEB.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                hidden += [
                    f"{path.name}:{inner.lineno}"
                    for inner in ast.walk(node)
                    if isinstance(inner, ast.Import | ast.ImportFrom)
                ]
    assert hidden == []
