"""Gateway configuration files for tests: TOML text, the usual sections, a loaded Config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gateway.config import Config, load_config


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(value)


def toml_text(sections: dict[str, Any]) -> str:
    """Enough TOML for test configs: tables of scalars, and arrays of tables."""
    lines: list[str] = []
    for name, body in sections.items():
        if isinstance(body, list):
            for item in body:
                lines.append(f"[[{name}]]")
                lines += [f"{k} = {toml_value(v)}" for k, v in item.items()]
            continue
        lines.append(f"[{name}]")
        lines += [
            f"{k} = {toml_value(v)}"
            for k, v in body.items()
            if not isinstance(v, list) or not v or not isinstance(v[0], dict)
        ]
        for key, value in body.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                for item in value:
                    lines.append(f"[[{name}.{key}]]")
                    lines += [f"{k} = {toml_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


def gateway_sections(tmp_path: Path, upstream_url: str, **overrides: dict[str, Any]) -> dict:
    sections: dict[str, Any] = {
        "smtp": {"listen": "127.0.0.1:0", "hostname": "gw.test"},
        "http": {"listen": "127.0.0.1:0", "public_url": "http://127.0.0.1"},
        "store": {"url": f"sqlite:///{tmp_path / 'gatekeeper.db'}"},
        "upstream": {"url": upstream_url, "connections": 4},
        "delivery": {"retry_initial": 0.5, "retry_max": 2.0},
        # the relay tests' sender is a transactional stream: consent is not their subject
        "streams": [{"sender": "app@example.com", "purpose": "transactional"}],
    }
    for name, values in overrides.items():
        if isinstance(values, list):
            sections[name] = values
        else:
            sections.setdefault(name, {}).update(values)
    return sections


def write_config(tmp_path: Path, sections: dict[str, Any]) -> Path:
    path = tmp_path / "gatekeeper.toml"
    path.write_text(toml_text(sections))
    return path


def make_config(tmp_path: Path, upstream_url: str, **overrides: dict[str, Any]) -> Config:
    path = write_config(tmp_path, gateway_sections(tmp_path, upstream_url, **overrides))
    return load_config(str(path), environ={})
