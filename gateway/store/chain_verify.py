"""Checking one instance's chain, row by row in `seq` order (pure; docs/accountability.md).

What each finding means:
- `altered`: the row's fields no longer give its stored hash (or its hash was rewritten,
  and the next row no longer links to it);
- `removed`: positions are missing before this row (a row was deleted), or the chain ends
  short of a checkpoint it reached;
- `inserted`: a row takes a position already taken, carries no chain link after the chain
  began, or does not link to the row before it.
"""

from __future__ import annotations

from gateway.store.chain import GENESIS, Anchor, ChainRow, Finding, row_hash


class ChainCheck:
    def __init__(
        self,
        key: bytes,
        instance: str,
        anchor: Anchor | None,
        legacy_seq: int,
        checkpoints: list[Anchor],
    ) -> None:
        self._key = key
        self.instance = instance
        self._legacy_seq = legacy_seq
        """Rows up to this seq were written before the chain existed (migration 9)."""
        self.n = anchor.n if anchor else 0
        self.head = anchor.head if anchor else GENESIS
        self._checkpoints = {c.n: c for c in checkpoints if c.n > self.n}
        self._started = False
        self.rows = 0

    def start_at(self, row: ChainRow) -> None:
        """`--since`: trust the first row read as the anchor of what follows."""
        self.n, self.head = row.n - 1, row.prev

    def check(self, row: ChainRow) -> Finding | None:
        if not row.hash and row.n == 0:
            if row.seq <= self._legacy_seq:
                return None
            return self._finding(row, "inserted", "no chain link, written after the chain began")
        self.rows += 1
        if row.n <= self.n:
            return self._finding(row, "inserted", f"position {row.n} is taken (last {self.n})")
        if row.n > self.n + 1:
            missing = f"{self.n + 1}" if row.n == self.n + 2 else f"{self.n + 1}..{row.n - 1}"
            return self._finding(row, "removed", f"chain position {missing} missing before it")
        if row_hash(self._key, row.n, row.prev, row.values) != row.hash:
            return self._finding(row, "altered", "its fields do not give its stored hash")
        if row.prev != self.head:
            return self._finding(
                row,
                "inserted",
                "does not link to the row before it (that row's hash was rewritten, "
                "or this one was put in its place)",
            )
        checkpoint = self._checkpoints.pop(row.n, None)
        if checkpoint is not None and checkpoint.head != row.hash:
            return self._finding(
                row, "altered", f"checkpoint of {checkpoint.at} recorded another hash here"
            )
        self.n, self.head = row.n, row.hash
        return None

    def finish(self) -> Finding | None:
        """After the last row: a checkpoint beyond it means rows were cut from the end."""
        if not self._checkpoints:
            return None
        first = min(self._checkpoints.values(), key=lambda c: c.n)
        return Finding(
            self.instance,
            None,
            "",
            "removed",
            f"the chain ends at position {self.n}; the checkpoint of {first.at} "
            f"recorded position {first.n}",
        )

    def _finding(self, row: ChainRow, problem: str, detail: str) -> Finding:
        return Finding(self.instance, row.seq, row.id, problem, detail)
