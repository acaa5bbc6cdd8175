"""A checker of the replicated store's guarantees over a recorded history of calls.

Fault tests (simulated or on real corosync) record every call a client made:
:class:`Call` with its outcome — ``ok`` (returned success), ``fail`` (a definite
failure: refused up front for lack of quorum, reported lost in a membership change, or
a conflict) or ``unknown`` (no quorum after submission, timeout, node killed: the op
may or may not have been applied).  :func:`check` then verifies, against the final
replicas, guarantees 1-4 of ``design/replicated-store.md``:

- every replica has the same checksum (convergence);
- every acknowledged write of a unique path is present with its value, every
  definitely failed one is absent (no acknowledged write lost, no phantom);
- the conditional counter equals the acknowledged increments plus at most the
  ambiguous ones (conditional ops decided identically);
- no success was answered by a node that was not in a quorate round (counted by each
  engine at the moment it answers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from pyxis.errors import Conflict, QuorumError, StoreError
from pyxis.store.tree import LOST

COUNTER = "counter.cfg"


@dataclass
class Call:
    node: str
    kind: str  # write (unique path) | incr (digest-conditional counter) | lock
    path: str
    value: str = ""
    outcome: str = "unknown"
    error: str = ""
    start: float = 0.0
    end: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def classify(err: BaseException, *, refused_up_front: bool) -> str:
    """``fail`` for definite failures, ``unknown`` for ambiguous ones."""
    if isinstance(err, QuorumError):
        return "fail" if refused_up_front else "unknown"
    if isinstance(err, Conflict):
        return "fail"
    if isinstance(err, StoreError) and LOST in str(err):
        return "fail"
    return "unknown"


@dataclass
class Report:
    calls: int
    ok: int
    failed: int
    unknown: int
    problems: list[str]

    def summary(self) -> str:
        state = "OK" if not self.problems else f"{len(self.problems)} PROBLEMS"
        return (
            f"history: {self.calls} calls, {self.ok} acknowledged, {self.failed} failed, "
            f"{self.unknown} ambiguous -> {state}"
        )


def check(
    history: list[Call],
    final: Mapping[str, bytes | None],
    checksums: Mapping[str, str],
    acks_outside_quorum: int = 0,
) -> Report:
    """Verify ``history`` against one replica's final contents and every replica's checksum.

    ``final`` maps each path the history names to its final content (None if absent);
    ``acks_outside_quorum`` sums the engines' count of successes answered while not in
    a quorate round (each engine checks this when it answers a call).
    """
    problems: list[str] = []
    if acks_outside_quorum:
        problems.append(f"{acks_outside_quorum} successes answered outside a quorate round")
    if len(set(checksums.values())) != 1:
        problems.append(f"replicas diverge: {dict(checksums)}")
    incr_ok = incr_unknown = 0
    for c in history:
        if c.kind == "write":
            have = final.get(c.path)
            if c.outcome == "ok" and have != c.value.encode():
                problems.append(f"acknowledged write lost: {c.path}={c.value!r}, have {have!r}")
            if c.outcome == "fail" and have is not None:
                problems.append(f"failed write present: {c.path} ({c.error})")
        elif c.kind == "incr":
            incr_ok += c.outcome == "ok"
            incr_unknown += c.outcome == "unknown"
    counter = int(final.get(COUNTER) or b"0")
    if not incr_ok <= counter <= incr_ok + incr_unknown:
        problems.append(
            f"counter {counter} outside [{incr_ok}, {incr_ok + incr_unknown}] "
            "(acknowledged increments lost or phantom increments)"
        )
    return Report(
        len(history),
        sum(c.outcome == "ok" for c in history),
        sum(c.outcome == "fail" for c in history),
        sum(c.outcome == "unknown" for c in history),
        problems,
    )


async def perform(store: Any, call: Call, clock: Any = None) -> Call:
    """Run ``call`` against a ``ClusterStore`` and record its outcome in place."""
    from pyxis.store.base import digest

    refused = not store.writable
    try:
        if call.kind == "write":
            await store.create(call.path, call.value.encode(), writer=call.node)
        elif call.kind == "incr":
            cur = store.read(COUNTER)
            call.value = str(int(cur or b"0") + 1)
            if cur is None:
                await store.create(COUNTER, call.value.encode())
            else:
                await store.write(COUNTER, call.value.encode(), expect_digest=digest(cur))
        elif call.kind == "lock":
            await store.lock(call.path, call.node, ttl=30)
        else:
            raise ValueError(f"unknown call kind {call.kind}")
        call.outcome = "ok"
    except Exception as err:
        call.outcome = classify(err, refused_up_front=refused)
        call.error = f"{type(err).__name__}: {err}"
    return call
