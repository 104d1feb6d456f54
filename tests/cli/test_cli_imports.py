"""The CLI package is a plain tree: `gateway.cli` imports every area's module, an area
imports only `gateway.cli.commands` of its own package (never `gateway.cli`, which would
close a cycle), and no import hides inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import gateway.cli

CLI = Path(gateway.cli.__file__).parent


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def top_imports(tree: ast.Module) -> set[tuple[str, str]]:
    """(module, name) of each `from module import name` at the top of a module."""
    return {
        (node.module or "", alias.name)
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def test_no_function_level_imports() -> None:
    hidden = [
        f"{path.name}:{inner.lineno}"
        for path in sorted(CLI.glob("*.py"))
        for node in ast.walk(parsed(path))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for inner in ast.walk(node)
        if isinstance(inner, ast.Import | ast.ImportFrom)
    ]
    assert hidden == []


def test_areas_import_only_the_commands_module_of_the_cli() -> None:
    for path in sorted(CLI.glob("*.py")):
        if path.name == "__init__.py":
            continue
        own = {m for m, _ in top_imports(parsed(path)) if m.startswith("gateway.cli")}
        assert own <= {"gateway.cli.commands"}, (path.name, own)


def test_the_package_imports_every_area() -> None:
    areas = {p.stem for p in CLI.glob("*.py")} - {"__init__", "commands"}
    imported = {name for m, name in top_imports(parsed(CLI / "__init__.py")) if m == "gateway.cli"}
    assert imported == areas
