"""Deterministic protocol tests: ``ClusterStore`` replicas on the simulated CPG network.

Each test is one scenario of ``design/replicated-store.md``; the seeded ``SimNetwork``
makes every run replay the same delivery order, splits and crashes.
"""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from conftest import SimCluster
from pyxis.errors import Conflict, QuorumError, StoreError
from pyxis.store.base import digest
from pyxis.store.replication import history as history_mod
from pyxis.store.replication import messages as messages_mod
from pyxis.store.replication.engine import Mode
from pyxis.store.replication.messages import decode
from pyxis.store.replication.sim import SimNetwork
from pyxis.store.tree import LOST


async def op_in_flight(net: SimNetwork) -> None:
    """Run the loop until an ``op`` message is sent but not yet delivered."""
    for _ in range(100):
        if any(getattr(e, "data", None) and decode(e.data)[0] == "op" for e in net.events):
            return
        await asyncio.sleep(0)
    raise AssertionError("no op in flight")


async def test_agreed_order_convergence(sim: SimCluster) -> None:
    await sim.start_all()
    writes = [
        sim.stores[n].write(f"f{i % 7}.cfg", f"{n}-{i}".encode(), writer=f"n{n}")
        for i in range(60)
        for n in (1, 2, 3)
    ]
    results = await asyncio.gather(*writes)
    await sim.net.settle()
    assert len(sim.checksums()) == 1
    assert [e.version for e in results] != []
    walks = {n: s.walk() for n, s in sim.stores.items()}
    assert walks[1] == walks[2] == walks[3]
    assert sim.stores[1].version == 180
    statuses = [s.status() for s in sim.stores.values()]
    assert {(st["epoch"], st["gv"], st["index"], st["leader"]) for st in statuses} == {
        (1, 180, 180, 1)
    }


async def test_watch_feed_sees_remote_changes(sim: SimCluster) -> None:
    await sim.start_all()
    feed = sim.stores[2].watch()
    await sim.stores[1].write("a.cfg", b"1")
    await sim.stores[3].rename("a.cfg", "b.cfg")
    await sim.stores[1].delete("b.cfg")
    got = [await asyncio.wait_for(anext(feed), 2) for _ in range(3)]
    assert [(c.op, c.path, c.new_path) for c in got] == [
        ("write", "a.cfg", None),
        ("rename", "a.cfg", "b.cfg"),
        ("delete", "b.cfg", None),
    ]


async def test_conditional_ops_identical_everywhere(sim: SimCluster) -> None:
    await sim.start_all()
    stores = sim.stores
    creates = await asyncio.gather(
        *(stores[n].create("nodes/n1/qemu-server/100.conf", f"{n}".encode()) for n in stores),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in creates) == 1
    assert all(isinstance(r, Conflict) for r in creates if isinstance(r, Exception))
    # The guest-ID rule holds cluster-wide: another node dir or type conflicts too.
    others = await asyncio.gather(
        stores[2].create("nodes/n2/qemu-server/100.conf", b"x"),
        stores[3].write("nodes/n3/lxc/100.conf", b"x"),
        return_exceptions=True,
    )
    assert all(isinstance(r, Conflict) and "VM 100 already exists" in str(r) for r in others)

    await stores[1].write("counter", b"0")
    await sim.net.settle()

    async def increment(n: int) -> bool:
        cur = stores[n].read("counter") or b"0"
        try:
            await stores[n].write("counter", b"%d" % (int(cur) + 1), expect_digest=digest(cur))
            return True
        except Conflict:
            return False

    oks = await asyncio.gather(*(increment(n) for n in (1, 2, 3) for _ in range(5)))
    await sim.net.settle()
    assert int(stores[2].read("counter") or b"") == sum(oks) >= 1

    locks = await asyncio.gather(
        *(stores[n].lock("storage-local", f"node{n}", ttl=60) for n in stores),
        return_exceptions=True,
    )
    assert sum(r is None for r in locks) == 1
    await sim.net.settle()
    holders = {s.lock_holder("storage-local") for s in stores.values()}
    assert len(holders) == 1 and None not in holders
    assert len(sim.checksums()) == 1


async def test_split_minority_refuses_and_majority_history_wins(sim: SimCluster) -> None:
    await sim.start_all()
    s1, s2, s3 = sim.stores[1], sim.stores[2], sim.stores[3]
    await s1.write("shared.cfg", b"before")
    # n3's write is in flight at the split and reaches only n3 (the minority).
    minority_write = asyncio.create_task(s3.write("shared.cfg", b"minority"))
    await op_in_flight(sim.net)
    sim.net.split([1, 2], [3], inflight="sender")
    with pytest.raises(QuorumError, match=r"^cluster not ready - no quorum\?$"):
        await minority_write
    await sim.synced()
    # n3 delivered its write before the configuration change (as CPG may), so the
    # minority holds a value the majority never saw; it was not acknowledged.
    assert s3.read("shared.cfg") == b"minority" and s1.read("shared.cfg") == b"before"
    assert not s3.quorate and not s3.writable and s1.writable
    with pytest.raises(QuorumError, match=r"no quorum"):
        await s3.write("x.cfg", b"1")
    with pytest.raises(QuorumError):
        await s3.lock("storage-local", "n3")
    await s1.lock("storage-local", "n1", ttl=60)
    await s2.write("shared.cfg", b"majority")
    epoch = s1.status()["epoch"]
    assert s3.status()["epoch"] < epoch
    sim.net.heal()
    await sim.synced()
    assert len(sim.checksums()) == 1
    # n3 holds a state the majority never passed through: it needs the full state
    assert s1.engine.stats["full_syncs"] + s2.engine.stats["full_syncs"] == 1
    assert s3.read("shared.cfg") == b"majority"
    assert s3.lock_holder("storage-local") == "n1"
    assert s3.status()["epoch"] == epoch + 1
    assert await s3.write("x.cfg", b"after heal")


async def test_write_reaching_only_the_minority_is_lost_not_acknowledged(
    sim: SimCluster,
) -> None:
    await sim.start_all()
    s1 = sim.stores[1]
    write = asyncio.create_task(s1.write("lost.cfg", b"v"))
    await op_in_flight(sim.net)
    sim.net.split([1, 2], [3], inflight="other")
    with pytest.raises(StoreError, match=LOST):
        await write
    await sim.synced()
    assert s1.get("lost.cfg") is None
    sim.net.heal()
    await sim.synced()
    assert {s.get("lost.cfg") for s in sim.stores.values()} == {None}
    assert len(sim.checksums()) == 1
    await s1.write("lost.cfg", b"retried")  # the origin's seq was re-based


async def test_acknowledgement_waits_for_every_member(sim: SimCluster) -> None:
    await sim.start_all()
    t3 = sim.net.running[3]
    t3.freeze()
    write = asyncio.create_task(sim.stores[1].write("a.cfg", b"1"))
    await sim.net.settle()
    assert sim.stores[1].read("a.cfg") == b"1" and sim.stores[2].read("a.cfg") == b"1"
    assert not write.done(), "acknowledged before n3 applied it"
    t3.thaw()
    await sim.net.settle()
    assert (await write).data == b"1"
    # A member crashing while a write waits for it: the quorate rest answers.
    t3 = sim.net.running[3]
    t3.freeze()
    write = asyncio.create_task(sim.stores[1].write("b.cfg", b"2"))
    await sim.net.settle()
    assert not write.done()
    await sim.crash(3)
    assert (await asyncio.wait_for(write, 5)).data == b"2"


async def test_node_down_during_10000_writes_catches_up_in_chunks(sim: SimCluster) -> None:
    await sim.start_all()
    await sim.crash(3)
    await sim.synced()
    value = b"x" * 100
    for start in range(0, 10_000, 500):
        await asyncio.gather(
            *(
                sim.stores[1 + i % 2].write(f"bulk/{i}.cfg", value + b"%d" % i)
                for i in range(start, start + 500)
            )
        )
    assert sim.stores[1].version == 10_000
    store3 = await sim.start(3)
    assert store3.version == 0
    await sim.synced()
    assert store3.version == 10_000 and len(sim.checksums()) == 1
    assert store3.read("bulk/9999.cfg") == value + b"9999"
    assert sim.net.max_message < 1024 * 1024
    assert store3.engine._sync_msgs > 1  # the catch-up came in several messages
    assert store3.engine.rounds == 1
    # n3's state is one the others passed through: their recent ops, not a full copy
    assert _syncs(sim) == (1, 0)
    store3.engine.db.load()  # persisted state verifies against its checksum


async def _n3_misses(sim: SimCluster, writes: dict[str, bytes]) -> None:
    """Node 3 is down while node 1 or 2 writes ``writes``, then starts and syncs."""
    await sim.crash(3)
    await sim.synced()
    await asyncio.gather(
        *(sim.stores[1 + i % 2].write(k, v) for i, (k, v) in enumerate(writes.items()))
    )
    await sim.start(3)
    await sim.synced()
    assert len(sim.checksums()) == 1
    assert all(sim.stores[3].read(k) == v for k, v in writes.items())


def _syncs(sim: SimCluster) -> tuple[int, int]:
    """(deltas, full syncs) sent by the live nodes' leaders."""
    stats = [s.engine.stats for s in sim.stores.values()]
    return sum(st["deltas"] for st in stats), sum(st["full_syncs"] for st in stats)


async def test_members_without_delta_support_get_the_full_state(
    sim: SimCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_of = messages_mod.StateMsg.of

    def older(f: dict[str, object]) -> messages_mod.StateMsg:
        return dataclasses.replace(real_of(f), deltas=False)  # as a node of before deltas

    monkeypatch.setattr(messages_mod.StateMsg, "of", staticmethod(older))
    await sim.start_all()
    await _n3_misses(sim, {"k": b"v"})
    assert _syncs(sim) == (0, 1)


async def test_member_behind_the_history_gets_the_full_state(
    sim: SimCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history_mod, "MAX_OPS", 100)
    await sim.start_all()
    await _n3_misses(sim, {f"k{i}": b"v" for i in range(300)})
    assert _syncs(sim) == (0, 1)
    await _n3_misses(sim, {"k-late": b"1"})  # once equal, a short absence is a delta again
    assert _syncs(sim)[0] == 1


async def test_crash_of_leader_during_sync(sim: SimCluster) -> None:
    await sim.start_all()
    await sim.crash(3)
    await sim.synced()
    await asyncio.gather(*(sim.stores[1].write(f"k{i}", b"v" * 2000) for i in range(600)))
    store3 = await sim.start(3)
    # Run until n3 holds part of the leader's state, then kill the leader.
    for _ in range(10_000):
        await asyncio.sleep(0)
        if store3.engine._sync_steps:
            break
    assert store3.engine._sync_steps and store3.engine.mode is Mode.SYNCING
    await sim.crash(1)
    await sim.synced()
    assert store3.engine.leader == 2
    assert len(sim.checksums()) == 1 and store3.version == 600
    await store3.write("after", b"1")


async def test_crash_of_receiver_during_sync_and_restart(sim: SimCluster) -> None:
    await sim.start_all()
    await sim.crash(3)
    await sim.synced()
    await asyncio.gather(*(sim.stores[2].write(f"k{i}", b"v" * 2000) for i in range(600)))
    store3 = await sim.start(3)
    for _ in range(10_000):
        await asyncio.sleep(0)
        if store3.engine._sync_steps:
            break
    await sim.crash(3)
    await sim.synced()
    store3 = await sim.start(3)
    await sim.synced()
    assert len(sim.checksums()) == 1 and store3.version == 600


async def test_whole_cluster_restart_keeps_acknowledged_state(sim: SimCluster) -> None:
    await sim.start_all()
    await sim.stores[1].write("a", b"1")
    await sim.stores[2].lock("l", "n2", ttl=60)
    for n in (1, 2, 3):
        await sim.crash(n, inflight="all")
    for n in (3, 1, 2):
        await sim.start(n)
    await sim.synced()
    assert len(sim.checksums()) == 1
    assert sim.stores[3].read("a") == b"1" and sim.stores[1].lock_holder("l") == "n2"


async def test_joining_node_with_reset_takes_the_cluster_state(sim: SimCluster) -> None:
    await sim.start_all()
    await sim.stores[1].write("cluster.cfg", b"c")
    await sim.crash(3)
    store3 = await sim.start(3, reset=True)
    await sim.synced()
    assert store3.read("cluster.cfg") == b"c" and len(sim.checksums()) == 1


async def test_late_quorum_triggers_a_fresh_round(tmp_path: object) -> None:
    from pathlib import Path

    from pyxis.store.replication.sim import SimNetwork

    c = SimCluster(Path(str(tmp_path)), SimNetwork(nodes=3, seed=5, quorum_lag=True))
    try:
        await c.start(1)
        await c.synced()
        assert not c.stores[1].writable
        await c.start(2)
        await c.synced()
        for _ in range(200):
            if c.stores[1].writable:
                break
            await asyncio.sleep(0.01)
        assert c.stores[1].writable and c.stores[1].status()["epoch"] == 1
        await c.stores[2].write("x", b"1")
    finally:
        await c.close()


async def test_lock_expiry_is_decided_by_the_proposers_clock(sim: SimCluster) -> None:
    await sim.start_all()
    await sim.stores[1].lock("vm-100", "n1", ttl=0.05)
    await sim.net.settle()
    expires = {s._tree.locks["vm-100"][1] for s in sim.stores.values()}
    assert len(expires) == 1  # now + ttl computed once, by the proposer
    with pytest.raises(Conflict, match="held by n1"):
        await sim.stores[2].lock("vm-100", "n2")
    await asyncio.sleep(0.08)
    await sim.stores[2].lock("vm-100", "n2", ttl=60)  # expired by n2's timestamp
    await sim.stores[1].unlock("vm-100", "n1")  # not the holder any more: no-op
    await sim.net.settle()
    assert {s.lock_holder("vm-100") for s in sim.stores.values()} == {"n2"}
    assert len(sim.checksums()) == 1


async def test_watch_feed_after_a_state_install(sim: SimCluster) -> None:
    await sim.start_all()
    await sim.stores[1].write("keep.cfg", b"same")
    await sim.stores[1].write("gone.cfg", b"x")
    await sim.crash(3)
    await sim.synced()
    await sim.stores[1].write("new.cfg", b"1")
    await sim.stores[2].delete("gone.cfg")
    store3 = await sim.start(3)
    feed = store3.watch()
    await sim.synced()
    got = [await asyncio.wait_for(anext(feed), 2) for _ in range(2)]
    assert sorted((c.op, c.path) for c in got) == [("delete", "gone.cfg"), ("write", "new.cfg")]
    assert feed.queue.empty()  # unchanged paths are not reported
