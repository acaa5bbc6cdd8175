"""A simulated cluster of ``ClusterStore`` replicas on one ``SimNetwork`` (per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pyxis.store.cluster import ClusterStore
from pyxis.store.replication.sim import SimNetwork


class SimCluster:
    """Nodes ``1..n`` named ``n1..nN``; each a ClusterStore on its own SQLite file."""

    def __init__(self, tmp: Path, net: SimNetwork, *, threaded: bool = False) -> None:
        self.tmp = tmp
        self.net = net
        self.threaded = threaded
        self.stores: dict[int, ClusterStore] = {}
        self._outside = 0  # acks_outside_quorum of engines already closed

    async def start(self, node: int, *, reset: bool = False, grace: float = 0.3) -> ClusterStore:
        store = await ClusterStore.open(
            self.tmp / f"n{node}" / "config.db",
            f"n{node}",
            self.net.transport(node),
            reset=reset,
            threaded_commit=self.threaded,
        )
        store.engine.grace = grace
        engine = store.engine
        self.net.busy_checks.append(lambda: not engine.closed and engine.busy)
        self.stores[node] = store
        return store

    async def start_all(self) -> None:
        for node in self.net.ids:
            await self.start(node)
        await self.synced()

    async def synced(self, nodes: list[int] | None = None, timeout: float = 10) -> None:
        await self.net.settle()
        for n in nodes or list(self.stores):
            await self.stores[n].wait_synced(timeout)
        await self.net.settle()

    async def crash(self, node: int, inflight: str = "random") -> None:
        store = self.stores.pop(node)
        self.net.crash(node, inflight)
        await store.close()
        self._outside += store.engine.acks_outside_quorum

    def acks_outside_quorum(self) -> int:
        return self._outside + sum(s.engine.acks_outside_quorum for s in self.stores.values())

    def checksums(self, nodes: list[int] | None = None) -> set[str]:
        return {self.stores[n].checksum() for n in nodes or list(self.stores)}

    async def close(self) -> None:
        for store in self.stores.values():
            await store.close()
        self.stores.clear()


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[SimCluster]:
    c = SimCluster(tmp_path, SimNetwork(nodes=3, seed=1))
    try:
        yield c
    finally:
        await c.close()
