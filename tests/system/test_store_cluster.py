"""The replicated config store on three real corosync instances (network namespaces).

One harness process per node (``pyxis.store.replication.harness``) runs a
``ClusterStore`` over ``CpgTransport``; the test drives them with JSON lines
(``tests/support/store_cluster.py``).  Proved here: convergence to identical checksums
after writes from every node; a partitioned minority refuses writes with upstream's
message while the majority goes on, and heals to the majority's state; a SIGKILLed node
that missed 10,000 writes catches up; and a randomized fault run (partitions, SIGKILL +
restart, SIGSTOP/SIGCONT of a harness or a whole node) checked over its history.
Namespaces, daemons and harnesses are removed at teardown, pass or fail.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from store_cluster import NODES, StoreCluster, fault_run

from pyxis.store.replication.checker import Call, check

pytestmark = pytest.mark.system
FAULT_SECONDS = float(os.environ.get("PYXIS_STORE_FAULT_SECONDS", "90"))


@pytest.fixture(scope="module")
def corosync(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreCluster]:
    if os.geteuid() != 0 or shutil.which("corosync") is None or shutil.which("nft") is None:
        pytest.skip("needs root, corosync and nft")
    c = StoreCluster(tmp_path_factory.mktemp("corosync"))
    try:
        c.setup()
        yield c
    finally:
        c.close()


@pytest.fixture
async def cluster(corosync: StoreCluster) -> AsyncIterator[StoreCluster]:
    corosync.run_id += 1  # fresh config.db files for every test
    corosync.heal()
    await corosync.start_all()
    yield corosync
    await corosync.stop_harnesses()
    corosync.heal()


async def calls(c: StoreCluster, node: int, kind: str, paths: list[str]) -> list[Call]:
    async def one(path: str) -> Call:
        resp = await c.harness[node].req(cmd="call", kind=kind, path=path, value=f"v:{path}")
        return Call(resp["node"], kind, path, resp["value"], resp["outcome"], resp["error"])

    return list(await asyncio.gather(*(one(p) for p in paths)))


async def test_convergence_minority_and_heal(cluster: StoreCluster) -> None:
    history: list[Call] = []
    for rnd in range(3):
        batches = await asyncio.gather(
            *(
                calls(cluster, i, "write", [f"a/{i}/{rnd}/{k}" for k in range(50)])
                for i in range(NODES)
            ),
            *(calls(cluster, i, "incr", ["counter"] * 5) for i in range(NODES)),
        )
        history += [c for b in batches for c in b]
    big = "b" * (1024 * 1024)  # the file size limit: one op above libcpg's own fragment size
    resp = await cluster.harness[1].req(cmd="call", kind="write", path="big.cfg", value=big)
    history.append(Call(resp["node"], "write", "big.cfg", big, resp["outcome"], resp["error"]))
    assert all(c.outcome == "ok" for c in history if c.kind == "write"), history[-1].error
    st = await cluster.wait_converged(10)
    assert len({s["checksum"] for s in st.values()}) == 1
    print("converged:", {i: (s["epoch"], s["gv"], s["checksum"][:12]) for i, s in st.items()})

    cluster.partition([2])
    t0 = time.monotonic()
    while (await cluster.harness[2].req(cmd="status"))["quorate"]:
        assert time.monotonic() - t0 < 20, "the cut-off node still reports quorum"
        await asyncio.sleep(0.2)
    await cluster.wait_writable([0, 1], timeout=30)
    print(f"minority lost quorum after {time.monotonic() - t0:.1f}s")
    refused = await calls(cluster, 2, "write", ["minority/1"])
    assert refused[0].outcome == "fail"
    assert refused[0].error == "QuorumError: cluster not ready - no quorum?"
    majority = await calls(cluster, 0, "write", [f"majority/{k}" for k in range(20)])
    assert all(c.outcome == "ok" for c in majority)
    history += refused + majority

    cluster.heal()
    await cluster.wait_writable(list(range(NODES)), timeout=60)
    st = await cluster.wait_converged(30)
    paths = [c.path for c in history] + ["counter.cfg"]
    finals = [(await cluster.harness[i].req(cmd="read", paths=paths))["data"] for i in range(3)]
    assert finals[0] == finals[1] == finals[2]
    report = check(
        history,
        {p: (v.encode("latin-1") if v is not None else None) for p, v in finals[2].items()},
        {str(i): s["checksum"] for i, s in st.items()},
        sum(s["acks_outside_quorum"] for s in st.values()),
    )
    print(report.summary())
    assert not report.problems, report.problems


async def test_killed_node_catches_up_10000_writes(cluster: StoreCluster) -> None:
    # the previous test healed a partition: corosync may still be merging the ring, and
    # a membership change during the bulk would refuse writes (correctly) mid-way
    await cluster.wait_stable()
    await cluster.harness[2].stop(signal.SIGKILL)
    await cluster.wait_writable([0, 1], timeout=30)
    t0 = time.monotonic()
    res = await cluster.harness[0].req(
        cmd="bulk", count=10_000, prefix="bulk", size=64, concurrency=64, timeout=300
    )
    assert res["ok"], res
    wrote = time.monotonic() - t0
    t1 = time.monotonic()
    await cluster.start_harness(2)
    await cluster.wait_writable([2], timeout=60)
    st = await cluster.wait_converged(30)
    caught_up = time.monotonic() - t1
    deltas = sum(s["deltas"] for s in st.values())
    print(
        f"10,000 writes in {wrote:.1f}s; restarted node synced in {caught_up:.1f}s "
        f"({'delta' if deltas else 'full state'}); gv {st[2]['gv']}"
    )
    assert deltas >= 1  # 10,000 small ops are within the leader's history
    assert st[2]["gv"] >= 10_000
    data = (await cluster.harness[2].req(cmd="read", paths=["bulk/9999.cfg"]))["data"]
    assert data["bulk/9999.cfg"] == "v" * 64 + "9999"


async def test_random_faults(cluster: StoreCluster) -> None:
    report = await fault_run(cluster, FAULT_SECONDS, seed=int(time.time()) % 1000)
    assert not report.problems, report.problems[:10]
    assert report.ok > 100
