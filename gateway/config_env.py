"""Environment overrides of the config file: `GATEKEEPER_<SECTION>__<KEY>`, read as TOML."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

from gateway.config_values import ConfigError

ENV_PREFIX = "GATEKEEPER_"


def apply_env(raw: dict[str, Any], environ: Mapping[str, str], lists: set[str]) -> None:
    """`GATEKEEPER_<SECTION>__<KEY>` sets one key of a table; a list of tables such as
    `[[streams]]` is set whole by `GATEKEEPER_STREAMS` (it has no one key to set)."""
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == "GATEKEEPER_CONFIG":
            continue
        section, nested, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if section in lists:
            raw[section] = _env_list(name, value, nested)
        elif nested and isinstance(raw.setdefault(section, {}), dict):
            raw[section][key] = _env_value(value)
        # else: not a table in the file either; _build names the file's fault


def _env_list(name: str, text: str, nested: str) -> list[Any]:
    section = name[len(ENV_PREFIX) :].partition("__")[0]
    example = f'{ENV_PREFIX}{section}=\'[{{sender = "a@shop.example", purpose = "marketing"}}]\''
    if nested:
        raise ConfigError(
            f"{name}: {section.lower()} is a list of tables, set as a whole: "
            f"{ENV_PREFIX}{section} as a TOML array of inline tables ({example})"
        )
    value = _env_value(text)
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ConfigError(
            f"{name}: {section.lower()} must be a TOML array of inline tables ({example})"
        )
    return value


def _env_value(text: str) -> Any:
    """An override is read as a TOML value when it parses as one (`true`, `10`, `["a"]`)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text
