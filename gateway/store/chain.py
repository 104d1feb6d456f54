"""The decision log as a hash chain per instance (docs/accountability.md).

Each decision row carries its place in its instance's chain (`chain_n`, 1 upwards), the hash
of the row before it (`chain_prev`) and its own hash (`chain_hash`): SHA-256 over the
previous hash and a canonical encoding of the row's fields.

Erasure re-keys rows (addresses become `erased:` + HMAC with the erasure key) and must not
break the chain, so the encoding never holds an address: the sender and the recipient enter
as that same keyed digest, and every address in `detail` is replaced by it. A row hashes the
same before and after `forget`. Pure code: no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from gateway.addresses import ADDRESS_TOKEN, ERASED, AddressError, canonical, erased_key
from gateway.store.records import DECISION_FIELDS, Decision

GENESIS = "0" * 64
"""chain_prev of an instance's first row."""
VERSION = "gk-chain-1"
SEPARATOR = "\x00"
HASHED_FIELDS: tuple[str, ...] = (*DECISION_FIELDS, "queue_id", "detail")
"""Every column of a decision row but the engine's `seq` and the chain's own."""
_SENDER = HASHED_FIELDS.index("sender")
_RECIPIENT = HASHED_FIELDS.index("recipient")
_DETAIL = HASHED_FIELDS.index("detail")


@lru_cache(maxsize=8192)
def subject(key: bytes, value: str) -> str:
    """An address as the chain sees it: the keyed digest `forget` would write for it.

    A value already erased, or no address at all (null sender, a refused RCPT's junk), is
    taken as it is. Cached: a message's sender recurs on every recipient's row."""
    if not value or value.startswith(ERASED):
        return value
    try:
        address = canonical(value)
    except AddressError:
        return value
    return erased_key(key, address)


def normalised_detail(key: bytes, detail: str) -> str:
    if "@" not in detail:  # most rows: no regex
        return detail
    return ADDRESS_TOKEN.sub(lambda m: subject(key, m.group()), detail)


def row_hash(key: bytes, n: int, prev: str, values: Sequence[str]) -> str:
    """SHA-256 (hex) of the chain position, the previous hash and the row's fields in
    HASHED_FIELDS order, addresses as their keyed digest. Fields are NUL-separated (no
    PostgreSQL text holds a NUL); a row whose fields do hold one is encoded with each field
    length-prefixed instead, so no NUL can move a byte from one field to the next."""
    fields = list(values)
    fields[_SENDER] = subject(key, fields[_SENDER])
    fields[_RECIPIENT] = subject(key, fields[_RECIPIENT])
    fields[_DETAIL] = normalised_detail(key, fields[_DETAIL])
    text = SEPARATOR.join((VERSION, str(n), prev, *fields))
    if text.count(SEPARATOR) != len(fields) + 2:
        text = VERSION + "".join(f"{len(f)}:{f}" for f in (str(n), prev, *fields))
    return hashlib.sha256(text.encode()).hexdigest()


def decision_values(decision: Decision) -> list[str]:
    return [getattr(decision, name) for name in HASHED_FIELDS]


class Link:
    """The head of one instance's chain, in the memory of its only writer."""

    __slots__ = ("head", "key", "n")

    def __init__(self, key: bytes, n: int = 0, head: str = GENESIS) -> None:
        self.key = key
        self.n = n
        self.head = head

    def link(self, decision: Decision) -> None:
        """Give the row its place, the previous hash and its own: one SHA-256 per row."""
        self.n += 1
        decision.chain_n = self.n
        decision.chain_prev = self.head
        decision.chain_hash = row_hash(self.key, self.n, self.head, decision_values(decision))
        self.head = decision.chain_hash


@dataclass(frozen=True, slots=True)
class ChainRow:
    """A decision row as verification reads it."""

    seq: int
    n: int
    prev: str
    hash: str
    values: tuple[str, ...]
    """HASHED_FIELDS in order."""

    @property
    def id(self) -> str:
        return self.values[0]

    @property
    def time(self) -> str:
        return self.values[1]


@dataclass(frozen=True, slots=True)
class Anchor:
    """Where an instance's chain resumes: a purge's checkpoint (the last row it deleted), or
    a checkpoint `gatekeeper log checkpoint` recorded, which the chain must still hold."""

    instance: str
    n: int
    head: str
    at: str
    kind: str
    """`purge` or `checkpoint`."""


@dataclass(frozen=True, slots=True)
class Finding:
    """The first thing wrong with a chain."""

    instance: str
    seq: int | None
    id: str
    problem: str
    """`altered`, `removed`, `inserted`."""
    detail: str

    def line(self) -> str:
        where = f"seq {self.seq} id {self.id}" if self.seq is not None else "end of chain"
        return f"{self.problem}: instance {self.instance or '-'} {where}: {self.detail}"
