"""Seeded randomized fault test on the simulated network, checked over its history.

Writers on every node create unique paths and bump a digest-conditional counter while
a fault driver splits the network (in-flight messages reaching one side only), crashes
and restarts nodes, and freezes them.  At the end everything heals and the checker
verifies the guarantees over the recorded history.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from conftest import SimCluster
from pyxis.store.replication.checker import COUNTER, Call, check, perform
from pyxis.store.replication.sim import SimNetwork


async def run_random(tmp: Path, seed: int, nodes: int, faults: int, threaded: bool) -> None:
    rng = random.Random(seed)
    sim = SimCluster(tmp, SimNetwork(nodes=nodes, seed=seed, max_batch=6), threaded=threaded)
    history: list[Call] = []
    stop = False

    async def writer(node: int, wid: int) -> None:
        i = 0
        while not stop:
            store = sim.stores.get(node)
            if store is None or not store.writable:
                await asyncio.sleep(0.002)
                if store is None:
                    continue
            i += 1
            kind = "incr" if rng.random() < 0.2 else "write"
            call = Call(f"n{node}", kind, f"w/{node}/{wid}/{i}", f"{seed}:{node}:{wid}:{i}")
            history.append(await perform(store, call))
            await asyncio.sleep(rng.random() * 0.002)

    try:
        await sim.start_all()
        await sim.stores[1].create(COUNTER, b"0")
        tasks = [asyncio.create_task(writer(n, w)) for n in sim.net.ids for w in range(2)]
        for _ in range(faults):
            await asyncio.sleep(rng.random() * 0.05)
            action = rng.choice(["split", "split", "heal", "crash", "restart", "freeze"])
            down = [n for n in sim.net.ids if n not in sim.stores]
            if action == "split":
                ids = sim.net.ids[:]
                rng.shuffle(ids)
                cut = rng.randint(1, len(ids) - 1)
                sim.net.split(ids[:cut], ids[cut:])
            elif action == "heal":
                sim.net.heal()
            elif action == "crash" and len(down) < nodes - 1:
                await sim.crash(rng.choice(list(sim.stores)))
            elif action in ("restart", "crash") and down:
                await sim.start(rng.choice(down))
            elif action == "freeze":
                t = sim.net.running[rng.choice(list(sim.net.running))]
                t.freeze()
                asyncio.get_running_loop().call_later(rng.random() * 0.1, t.thaw)
        sim.net.heal()
        for n in sim.net.ids:
            if n not in sim.stores:
                await sim.start(n)
        for t in sim.net.running.values():
            t.thaw()
        for _ in range(2000):  # writers keep going while the cluster heals
            if all(s.writable for s in sim.stores.values()):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)
        stop = True
        await asyncio.wait_for(asyncio.gather(*tasks), 90)
        await sim.synced()
        store = sim.stores[1]
        paths = {c.path for c in history} | {COUNTER}
        report = check(
            history,
            {p: store.read(p) for p in paths},
            {s.node: s.checksum() for s in sim.stores.values()},
            sim.acks_outside_quorum(),
        )
        print(f"seed {seed}: {report.summary()}")
        assert not report.problems, report.problems[:5]
        assert report.ok > 50 and report.failed + report.unknown > 0
    finally:
        stop = True
        await sim.close()


@pytest.mark.parametrize(
    ("seed", "nodes", "threaded"), [(1, 3, False), (2, 3, False), (3, 5, False), (4, 3, True)]
)
async def test_random_faults(tmp_path: Path, seed: int, nodes: int, threaded: bool) -> None:
    """``threaded``: group commits on the worker thread (timing no longer replays)."""
    await run_random(tmp_path, seed, nodes, faults=40, threaded=threaded)
