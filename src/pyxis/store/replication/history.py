"""The recent history of one replica: the ops it applied, each with the checksum after it.

A sync round's leader uses it to catch a member up with a **delta** instead of its
whole state: a member whose ``(index, checksum)`` equals the leader's state after op
``index`` holds exactly that state (equal checksums mean byte-identical replicas), so
replaying the leader's later ops — apply is deterministic and every op carries all its
inputs — reproduces the leader's state.  Each replayed op's checksum travels with it and
is checked as it is applied.

The history starts at the state the replica loaded or installed (its *base*) and keeps
at most :data:`MAX_OPS` ops and :data:`MAX_BYTES` of op data, dropping the oldest (the
base moves forward); a member behind the base gets the full state.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass

from pyxis.store.tree import Op

MAX_OPS = 50_000
MAX_BYTES = 32 << 20


@dataclass(frozen=True, slots=True)
class Step:
    op: Op
    index: int  # the replica's index after applying ``op``
    checksum: str  # and its checksum


class History:
    """Ops applied since ``base``; see the module docstring."""

    def __init__(self, index: int, checksum: str) -> None:
        self.reset(index, checksum)

    def reset(self, index: int, checksum: str) -> None:
        """Start over from a state that is not the result of the ops kept (an install)."""
        self.base = (index, checksum)
        self.steps: deque[Step] = deque()
        self.bytes = 0

    def record(self, op: Op, index: int, checksum: str) -> None:
        last = self.steps[-1].index if self.steps else self.base[0]
        if index != last + 1:
            self.reset(index, checksum)  # not a continuation: nothing before is usable
            return
        self.steps.append(Step(op, index, checksum))
        self.bytes += len(op.data)
        while len(self.steps) > MAX_OPS or self.bytes > MAX_BYTES:
            old = self.steps.popleft()
            self.bytes -= len(old.op.data)
            self.base = (old.index, old.checksum)

    def holds(self, index: int, checksum: str) -> bool:
        """Whether the state ``(index, checksum)`` is one this history passed through."""
        if (index, checksum) == self.base:
            return True
        pos = index - self.base[0] - 1
        if not 0 <= pos < len(self.steps):
            return False
        return self.steps[pos].checksum == checksum

    def since(self, index: int) -> list[Step]:
        """The steps after state ``index`` (which :meth:`holds` must have confirmed)."""
        return list(itertools.islice(self.steps, index - self.base[0], None))
