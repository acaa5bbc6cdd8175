"""The op history a sync leader serves deltas from."""

from __future__ import annotations

import pytest

from pyxis.store.replication import history as history_mod
from pyxis.store.replication.history import History
from pyxis.store.tree import Op


def _op(n: int, size: int = 10) -> Op:
    return Op("write", f"f{n}", b"x" * size)


def test_holds_base_and_every_step_with_its_checksum() -> None:
    h = History(5, "c5")
    for i in range(6, 10):
        h.record(_op(i), i, f"c{i}")
    assert h.holds(5, "c5") and h.holds(7, "c7") and h.holds(9, "c9")
    assert not h.holds(7, "other") and not h.holds(10, "c10") and not h.holds(4, "c4")
    assert [st.index for st in h.since(5)] == [6, 7, 8, 9]
    assert [st.index for st in h.since(8)] == [9]
    assert h.since(9) == []


def test_a_gap_restarts_the_history() -> None:
    h = History(0, "c0")
    h.record(_op(1), 1, "c1")
    h.record(_op(5), 5, "c5")  # not a continuation (an install happened in between)
    assert h.base == (5, "c5") and not h.holds(1, "c1") and h.since(5) == []


def test_oldest_steps_go_when_over_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history_mod, "MAX_OPS", 3)
    h = History(0, "c0")
    for i in range(1, 6):
        h.record(_op(i), i, f"c{i}")
    assert h.base == (2, "c2") and [st.index for st in h.since(2)] == [3, 4, 5]
    assert not h.holds(1, "c1") and h.holds(2, "c2")
    monkeypatch.setattr(history_mod, "MAX_OPS", 100)
    monkeypatch.setattr(history_mod, "MAX_BYTES", 250)
    h = History(0, "c0")
    for i in range(1, 6):
        h.record(_op(i, 100), i, f"c{i}")
    assert h.bytes <= 250 and h.base == (3, "c3")
