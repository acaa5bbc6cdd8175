"""Counter readers and rate arithmetic of the collector, and the metrics file store."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyxis.errors import PyxisError
from pyxis.metrics.probes import (
    CpuTimes,
    Deltas,
    guest_traffic,
    node_traffic,
    read_cpu_times,
    read_net_dev,
)
from pyxis.metrics.rrdstore import KIND_METRICS, RrdStore, UnknownKind

NET_DEV = """\
Inter-|   Receive                                                |  Transmit
 face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs drop ...
    lo: 4778637878 16394446 0 0 0 0 0 0 4778637878 16394446 0 0 0 0 0 0
  eth0: 1000 17410 0 0 0 0 0 0 2000 9908 0 0 0 0 0 0
enp3s0: 10 1 0 0 0 0 0 0 20 1 0 0 0 0 0 0
 vmbr0: 500 14 0 0 0 0 0 8 700 23 0 2 0 0 0 0
tap100i0: 30 1 0 0 0 0 0 0 40 1 0 0 0 0 0 0
tap100i1: 3 1 0 0 0 0 0 0 4 1 0 0 0 0 0 0
tap101i0: 7 1 0 0 0 0 0 0 9 1 0 0 0 0 0 0
fwpr100p0: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0
"""


CPU_CASES = [
    ("8 fields", "cpu  100 20 30 400 50 5 5 0 0 0", CpuTimes(busy=160, iowait=50, total=610)),
    ("guest fields ignored", "cpu 1 0 1 10 2 0 0 0 7 7\ncpu0 1 0 1 10 2", CpuTimes(2, 2, 14)),
    ("old kernels: 4 fields", "cpu 1 2 3 4", CpuTimes(busy=6, iowait=0, total=10)),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in CPU_CASES], ids=[c[0] for c in CPU_CASES]
)
def test_read_cpu_times(text: str, expected: CpuTimes) -> None:
    assert read_cpu_times(text) == expected


def test_read_cpu_times_of_this_host() -> None:
    t = read_cpu_times()
    assert 0 <= t.busy <= t.total and 0 <= t.iowait <= t.total


def test_net_dev_traffic() -> None:
    dev = read_net_dev(NET_DEV)
    assert dev["lo"] == (4778637878, 4778637878)
    assert dev["tap100i0"] == (30, 40)
    # physical NICs only: bridges and taps carry the same bytes again
    assert node_traffic(dev) == (1010, 2020)
    # the tap's transmit is what the guest received
    assert guest_traffic(dev) == {100: (44, 33), 101: (9, 7)}


def test_deltas() -> None:
    d = Deltas()
    assert d.rates("k", 10.0, {"a": 100, "b": 5}) == {}
    assert d.rates("k", 12.0, {"a": 300, "b": 4}) == {"a": 100.0}  # b went backwards
    assert d.rates("k", 12.0, {"a": 400}) == {}  # no time passed
    assert d.step("k", 14.0, {"a": 500, "c": 1}) == (2.0, {"a": 100})
    d.prune()
    d.step("other", 1.0, {"a": 1})
    d.prune()  # "k" was not stepped since the previous prune
    assert d.rates("k", 20.0, {"a": 600}) == {}
    assert d.rates("other", 2.0, {"a": 3}) == {"a": 2.0}


# --- RrdStore ---------------------------------------------------------------------------

T = 1_700_000_000.0


async def test_store_writes_completed_points_and_reloads(tmp_path: Path) -> None:
    store = RrdStore(tmp_path)
    store.update("storage", "local", T, {"total": 10.0, "used": 4.0})
    await store.flush()
    assert not (tmp_path / "storage" / "local").exists()  # no point completed yet
    store.update("storage", "local", T + 60, {"total": 10.0, "used": 6.0})
    await store.flush()
    assert (tmp_path / "storage" / "local").exists()
    await store.flush(everything=True)  # the open minute too
    again = RrdStore(tmp_path)
    rows = again.fetch("storage", "local", "hour", "AVERAGE", T + 60)
    assert [(r["total"], r["used"]) for r in rows[-2:]] == [(10.0, 4.0), (10.0, 6.0)]


async def test_store_never_sampled_entity_is_all_gaps(tmp_path: Path) -> None:
    rows = RrdStore(tmp_path).fetch("qemu", "100", "day", "MAX", T)
    assert len(rows) == 70
    assert all(set(r) == {"time", *KIND_METRICS["qemu"]} for r in rows)
    assert all(v is None for r in rows for k, v in r.items() if k != "time")
    assert not (tmp_path / "qemu").exists()


async def test_store_sets_a_broken_file_aside(tmp_path: Path) -> None:
    (tmp_path / "node").mkdir()
    (tmp_path / "node" / "n1").write_bytes(b"garbage")
    store = RrdStore(tmp_path)
    store.update("node", "n1", T, {"cpu": 0.5})
    assert (tmp_path / "node" / "n1.broken").read_bytes() == b"garbage"
    assert store.fetch("node", "n1", "hour", "AVERAGE", T)[-1]["cpu"] == 0.5


@pytest.mark.parametrize(("kind", "ident"), [("vm", "100"), ("qemu", "../x"), ("node", ".hidden")])
def test_store_refuses_bad_names(tmp_path: Path, kind: str, ident: str) -> None:
    with pytest.raises(PyxisError) as exc:
        RrdStore(tmp_path).path(kind, ident)
    assert isinstance(exc.value, UnknownKind) == (kind == "vm")
