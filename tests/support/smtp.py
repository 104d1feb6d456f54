"""Raw SMTP dialogues over a socket, for tests that must see every reply as sent."""

from __future__ import annotations

import socket
from typing import BinaryIO


def read_reply(reader: BinaryIO) -> bytes:
    """One whole reply, its lines (RFC 5321 §4.2.1 multi-line form) joined by LF."""
    lines = []
    while True:
        line = reader.readline()
        assert line, "connection closed"
        lines.append(line.rstrip(b"\r\n"))
        if line[3:4] != b"-":
            return b"\n".join(lines)


def dialogue(port: int, lines: list[bytes]) -> list[bytes]:
    """The greeting, then each command sent on its own and its whole reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")
        replies = [read_reply(reader)]
        for line in lines:
            sock.sendall(line + b"\r\n")
            replies.append(read_reply(reader))
        return replies


def converse(port: int, writes: list[tuple[bytes, int]]) -> list[bytes]:
    """The greeting, then each write sent whole and as many replies read as it is owed."""
    return _converse(port, writes, to_eof=False)[0]


def converse_to_eof(port: int, writes: list[tuple[bytes, int]]) -> tuple[list[bytes], bytes]:
    """`converse`, then whatever the server sends until it closes the connection."""
    return _converse(port, writes, to_eof=True)


def _converse(
    port: int, writes: list[tuple[bytes, int]], *, to_eof: bool
) -> tuple[list[bytes], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")
        replies = [read_reply(reader)]
        for data, owed in writes:
            sock.sendall(data)
            replies += [read_reply(reader) for _ in range(owed)]
        return replies, reader.read() if to_eof else b""
