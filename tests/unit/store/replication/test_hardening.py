"""Hostile or broken input to the replication protocol fails the same way on every
replica instead of raising out of the delivery callback or closing the store."""

from __future__ import annotations

import math

import pytest

from conftest import SimCluster
from pyxis.errors import ParamError, StoreError
from pyxis.store.replication.messages import encode
from pyxis.store.tree import Op, Tree


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00garbage", encode("op", {"n": 1}), encode("state", {"bogus": True})],
)
async def test_undecodable_messages_are_dropped_everywhere(sim: SimCluster, data: bytes) -> None:
    await sim.start_all()
    transport = sim.net.running[1]
    await transport.send(data)
    await sim.net.settle()
    await sim.stores[2].write("after.cfg", b"still working\n")
    await sim.synced()
    assert len(sim.checksums()) == 1
    assert all(s.read("after.cfg") == b"still working\n" for s in sim.stores.values())
    assert all(s.engine.stats["malformed"] == 1 for s in sim.stores.values())


@pytest.mark.parametrize("ttl", [math.nan, math.inf, -1.0, 0.0, 10.0**12])
async def test_lock_ttl_must_be_finite_and_bounded(sim: SimCluster, ttl: float) -> None:
    await sim.start_all()
    with pytest.raises(ParamError):
        await sim.stores[1].lock("guard", "me", ttl=ttl)


def test_apply_refuses_unknown_kinds_and_bad_expiry_without_touching_state() -> None:
    tree = Tree()
    before = tree.checksum()
    res = tree.apply(Op("mkdir", "x"))
    assert isinstance(res.error, StoreError) and "unknown" in res.error.message
    res = tree.apply(Op("lock", "l", holder="h", now=1.0, ttl=math.nan))
    assert isinstance(res.error, StoreError) and not tree.locks
    assert tree.entries == {} and tree.checksum() != before  # counted as processed ops
