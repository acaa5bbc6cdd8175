"""VmidAllocator: reservations through the store's exclusive create (LocalStore)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pyxis.cluster.nextid import PREFIX, RESERVATION_TTL, VmidAllocator
from pyxis.errors import ParamError, PyxisError
from pyxis.store.local import LocalStore
from pyxis.store.virtual import vmlist_json


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LocalStore]:
    s = LocalStore.open(tmp_path / "config.db", "n1")
    yield s
    await s.close()


def used(store: LocalStore) -> set[int]:
    return {int(v) for v in vmlist_json(store)["ids"]}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_concurrent_callers_on_two_nodes_get_distinct_ids(store: LocalStore) -> None:
    a, b = VmidAllocator(store, "n1"), VmidAllocator(store, "n2")
    ids = await asyncio.gather(
        *[(a if i % 2 else b).allocate(100, 1000, lambda: used(store)) for i in range(20)]
    )
    assert sorted(ids) == list(range(100, 120))
    holders = {e.path: e.writer for e in store.walk(PREFIX)}
    assert set(holders.values()) == {"n1", "n2"}


async def test_existing_guests_and_live_reservations_are_skipped(store: LocalStore) -> None:
    await store.write("nodes/n2/qemu-server/100.conf", b"memory: 512\n", writer="n2")
    alloc = VmidAllocator(store, "n1")
    assert await alloc.allocate(100, 1000, lambda: used(store)) == 101
    assert await alloc.allocate(100, 1000, lambda: used(store)) == 102


async def test_expired_reservation_is_reclaimed_once(store: LocalStore) -> None:
    clock = Clock()
    a, b = VmidAllocator(store, "n1", clock), VmidAllocator(store, "n2", clock)
    assert await a.allocate(100, 1000, lambda: used(store)) == 100
    clock.now += RESERVATION_TTL + 1
    got = await asyncio.gather(
        a.allocate(100, 1000, lambda: used(store)), b.allocate(100, 1000, lambda: used(store))
    )
    assert sorted(got) == [100, 101]


async def test_reservation_is_dropped_once_the_guest_exists(store: LocalStore) -> None:
    alloc = VmidAllocator(store, "n1")
    assert await alloc.allocate(100, 1000, lambda: used(store)) == 100
    await store.write("nodes/n1/lxc/100.conf", b"memory: 512\n", writer="n1")
    assert await alloc.allocate(100, 1000, lambda: used(store)) == 101
    assert [e.path for e in store.walk(PREFIX)] == [f"{PREFIX}101"]


async def test_check_refuses_guests_and_live_reservations(store: LocalStore) -> None:
    clock = Clock()
    alloc = VmidAllocator(store, "n1", clock)
    await store.write("nodes/n1/qemu-server/150.conf", b"memory: 512\n", writer="n1")
    assert await alloc.allocate(100, 1000, lambda: used(store)) == 100
    assert alloc.check(101, used(store)) == 101
    for vmid in (100, 150):
        with pytest.raises(ParamError) as info:
            alloc.check(vmid, used(store))
        assert info.value.errors == {"vmid": f"VM {vmid} already exists"}
    clock.now += RESERVATION_TTL + 1
    assert alloc.check(100, used(store)) == 100


async def test_unreadable_reservation_counts_as_expired(store: LocalStore) -> None:
    await store.write(f"{PREFIX}100", b"{not json", writer="n9")
    assert await VmidAllocator(store, "n1").allocate(100, 1000, lambda: used(store)) == 100


async def test_full_range_is_an_error(store: LocalStore) -> None:
    alloc = VmidAllocator(store, "n1")
    assert await alloc.allocate(100, 101, lambda: used(store)) == 100
    with pytest.raises(PyxisError, match="unable to get any free VMID"):
        await alloc.allocate(100, 101, lambda: used(store))
