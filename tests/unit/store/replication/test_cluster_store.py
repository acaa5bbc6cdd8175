"""``ClusterStore`` API details: switching a node from ``LocalStore`` on the same file,
migrating an older file, ``reset``, status, and refusals before the first sync."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from pyxis.errors import ParamError, QuorumError
from pyxis.store.cluster import ClusterStore, open_node_store
from pyxis.store.local import LocalStore
from pyxis.store.replication.sim import SimNetwork


async def test_switch_from_local_store_on_the_same_file(tmp_path: Path) -> None:
    db = tmp_path / "config.db"
    local = LocalStore.open(db, "n1")
    await local.write("storage.cfg", b"dir: local\n", writer="root@pam")
    await local.lock("authkey", "root@pam", ttl=60)
    before = local.walk()
    net = SimNetwork(nodes=1)
    store = await open_node_store(db, "n1", net.transport(1), current=local)
    assert isinstance(store, ClusterStore)
    try:
        await store.wait_synced(5)
        assert store.walk() == before and store.lock_holder("authkey") == "root@pam"
        assert store.status()["epoch"] == 1 and store.writable
        await store.write("user.cfg", b"x")
        assert store.version == 2
    finally:
        await store.close()
    back = await open_node_store(db, "n1")  # and back to local mode
    assert isinstance(back, LocalStore) and back.read("user.cfg") == b"x"
    back.integrity_check()
    await back.close()


async def test_older_file_is_migrated(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.executescript(
        "CREATE TABLE entries (path TEXT PRIMARY KEY, data BLOB NOT NULL, version INTEGER "
        "NOT NULL, mtime INTEGER NOT NULL, writer TEXT NOT NULL);"
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
        "CREATE TABLE locks (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires REAL NOT NULL);"
        "INSERT INTO meta VALUES ('version', 7);"
        "INSERT INTO entries VALUES ('a.cfg', x'31', 7, 0, 'w');"
    )
    conn.commit()
    conn.close()
    store = await ClusterStore.open(db, "n1", SimNetwork(nodes=1).transport(1))
    try:
        await store.wait_synced(5)
        assert store.read("a.cfg") == b"1" and store.version == 7
        assert (await store.write("b.cfg", b"2")).version == 8
    finally:
        await store.close()


async def test_reset_and_refusals(tmp_path: Path) -> None:
    db = tmp_path / "config.db"
    local = LocalStore.open(db, "n2")
    await local.write("stale.cfg", b"x")
    await local.close()
    net = SimNetwork(nodes=3)
    store = await ClusterStore.open(db, "n2", net.transport(2), reset=True)
    try:
        assert store.get("stale.cfg") is None and store.version == 0
        with pytest.raises(QuorumError, match=r"cluster not ready - no quorum\?"):
            await store.write("x", b"1")  # not synced yet
        await store.wait_synced(5)
        assert store.synced and not store.quorate  # alone: 1 of 3 votes
        with pytest.raises(QuorumError):
            await store.create("x", b"1")
        with pytest.raises(ParamError):
            await store.write("/abs", b"1")
        st = store.status()
        assert (st["mode"], st["members"], st["leader"], st["epoch"]) == ("synced", [2], 2, 0)
        assert st["checksum"] == store.checksum()
    finally:
        await store.close()
