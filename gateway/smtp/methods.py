"""aiosmtpd's tables of `smtp_*`, `auth_*` and `handle_*` methods, found once per class.

aiosmtpd scans every new connection with `inspect.getmembers`/`dir` (~100 us, a tenth of
the event loop's time per message); these do that work once per class.
"""

from __future__ import annotations

import inspect
from typing import Any

_METHOD_NAMES: dict[tuple[type, str], tuple[str, ...]] = {}


def method_names(cls: type, prefix: str) -> tuple[str, ...]:
    names = _METHOD_NAMES.get((cls, prefix))
    if names is None:
        names = _METHOD_NAMES[cls, prefix] = tuple(n for n in dir(cls) if n.startswith(prefix))
    return names


def mechanism(name: str, method: Any) -> str:
    return getattr(method, "__auth_mechanism_name__", name.replace("auth_", "").replace("__", "-"))


_EHLO_VERSIONS: dict[type, str] = {}


def ehlo_version(handler: Any) -> str:
    """Once per handler class too: `inspect.signature` costs ~2 % of a relay's CPU when
    asked at every connection."""
    version = _EHLO_VERSIONS.get(type(handler))
    if version is None:
        arity = len(inspect.signature(handler.handle_EHLO).parameters)
        if arity not in (4, 5):
            raise RuntimeError("Unsupported EHLO Hook")
        version = _EHLO_VERSIONS[type(handler)] = "old" if arity == 4 else "new"
    return version
