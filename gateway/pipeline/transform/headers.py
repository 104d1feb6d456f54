"""Header fields on raw message bytes: listing, removing and rendering them.

The relay never re-serialises a parsed message (existing DKIM signatures and folding must
survive), so these work on the received bytes and copy as little as they can; where the
block ends is gateway.pipeline.mime.header_end.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from gateway.pipeline.mime import header_end

# RFC 5322 §2.2: a field name is printable US-ASCII except ':'.
_FIELD_NAME = re.compile(r"[!-9;-~]+")
# RFC 5322 §2.1.1: a line MUST NOT exceed 998 characters, excluding CRLF.
_MAX_LINE = 998


def header_fields(block: bytes) -> list[tuple[str, bytes]]:
    """Fields of a header block as (lowercased name, raw bytes).

    The raw bytes are the whole field: name, value, continuation lines and line endings,
    so joining them gives back the block up to its blank line. A line that is neither a
    field nor a continuation (e.g. an mbox ``From `` line) becomes a field named "".
    """
    fields: list[tuple[str, bytearray]] = []
    for line in block.splitlines(keepends=True):
        if line in (b"\r\n", b"\n"):
            break
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1][1].extend(line)
            continue
        name, colon, _ = line.partition(b":")
        key = name.strip().decode("ascii", "replace").lower() if colon else ""
        fields.append((key, bytearray(line)))
    return [(name, bytes(raw)) for name, raw in fields]


def remove_fields(data: bytes, names: Iterable[str], prefixes: Iterable[str] = ()) -> bytes:
    """Drop every field named in ``names`` or starting with one of ``prefixes`` (any case).

    Returns ``data`` itself when nothing matched, so the common path copies nothing.
    """
    drop = {name.lower() for name in names}
    starts = tuple(prefix.lower() for prefix in prefixes)
    cut = header_end(data)
    fields = header_fields(data[:cut])

    def unwanted(name: str) -> bool:
        return bool(name) and (name in drop or name.startswith(starts))

    if not any(unwanted(name) for name, _ in fields):
        return data
    fields_len = sum(len(raw) for _, raw in fields)
    kept = [raw for name, raw in fields if not unwanted(name)]
    # the rest as a view: one copy of the message, not a slice and then its concatenation
    return b"".join([*kept, memoryview(data)[fields_len:]])


def prepend(fields: Sequence[tuple[str, str]]) -> bytes:
    """Render fields as ``Name: value\\r\\n`` lines, unfolded, ready to put before a message."""
    return b"".join(_render(name, value) for name, value in fields)


def _render(name: str, value: str) -> bytes:
    if not _FIELD_NAME.fullmatch(name):
        raise ValueError(f"invalid header field name {name!r}")
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name} value contains CR or LF")
    if not value.isascii():
        # RFC 5322 §2.2: field bodies are US-ASCII (8-bit needs SMTPUTF8 end to end).
        raise ValueError(f"header {name} value is not US-ASCII")
    line = f"{name}: {value}"
    if len(line) > _MAX_LINE:
        raise ValueError(f"header {name} is longer than {_MAX_LINE} characters")
    return line.encode("ascii") + b"\r\n"
