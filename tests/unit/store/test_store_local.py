"""Unit tests of the local-mode config store: reads, versions, exclusive create, atomic
rename, conditional writes, limits, path validation, locks, the watch feed, persistence."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pyxis.errors import Conflict, NotFound, ParamError, StoreError
from pyxis.store.base import MAX_FILE, Change, digest
from pyxis.store.local import MODIFIED, LocalStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LocalStore]:
    s = LocalStore.open(tmp_path / "db" / "config.db", "n1")
    yield s
    await s.close()


async def fill(s: LocalStore, paths: list[str]) -> None:
    for p in paths:
        await s.write(p, p.encode())


TREE = [
    "storage.cfg",
    "user.cfg",
    "nodes/n1/qemu-server/100.conf",
    "nodes/n1/qemu-server/101.conf",
    "nodes/n1/lxc/200.conf",
    "nodes/n2/qemu-server/102.conf",
    "priv/shadow.cfg",
]


@pytest.mark.parametrize(
    ("directory", "expected"),
    [
        ("", ["nodes", "priv", "storage.cfg", "user.cfg"]),
        ("nodes", ["n1", "n2"]),
        ("nodes/", ["n1", "n2"]),
        ("nodes/n1", ["lxc", "qemu-server"]),
        ("nodes/n1/qemu-server", ["100.conf", "101.conf"]),
        ("nodes/n3", []),
        ("storage.cfg", []),
    ],
)
async def test_listdir(store: LocalStore, directory: str, expected: list[str]) -> None:
    await fill(store, TREE)
    assert store.listdir(directory) == expected


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("", sorted(TREE)),
        ("nodes/n1/", sorted(p for p in TREE if p.startswith("nodes/n1/"))),
        ("nodes/n1/qemu-server/10", [f"nodes/n1/qemu-server/{i}.conf" for i in (100, 101)]),
        ("zzz", []),
    ],
)
async def test_walk(store: LocalStore, prefix: str, expected: list[str]) -> None:
    await fill(store, TREE)
    assert [e.path for e in store.walk(prefix)] == expected


async def test_read_write_and_versions(store: LocalStore) -> None:
    assert store.version == 0
    assert store.get("storage.cfg") is None
    assert store.read_text("storage.cfg", "none") == "none"
    e1 = await store.write("storage.cfg", b"dir: local\n", writer="root@pam")
    assert (e1.version, e1.writer, store.version) == (1, "root@pam", 1)
    e2 = await store.write("user.cfg", b"user:root@pam:1:0:::::\n")
    e3 = await store.write("storage.cfg", b"dir: local2\n")
    assert (e2.version, e3.version, store.version) == (2, 3, 3)
    assert store.read("storage.cfg") == b"dir: local2\n"
    assert store.get("storage.cfg") == e3
    await store.delete("user.cfg")
    assert store.version == 4 and store.get("user.cfg") is None
    assert store.total_bytes == len(b"dir: local2\n")


async def test_exclusive_create(store: LocalStore) -> None:
    e = await store.create("nodes/n1/qemu-server/100.conf", b"a")
    assert e.version == 1
    with pytest.raises(Conflict, match="already exists"):
        await store.create("nodes/n1/qemu-server/100.conf", b"b")
    assert store.read("nodes/n1/qemu-server/100.conf") == b"a"
    assert store.version == 1


async def test_delete_missing(store: LocalStore) -> None:
    with pytest.raises(NotFound):
        await store.delete("nope.cfg")


async def test_rename(store: LocalStore) -> None:
    await store.write("nodes/n1/qemu-server/100.conf", b"cores: 2\n", writer="w")
    await store.write("nodes/n2/qemu-server/101.conf", b"x")
    moved = await store.rename("nodes/n1/qemu-server/100.conf", "nodes/n2/qemu-server/100.conf")
    assert (moved.data, moved.version, moved.writer) == (b"cores: 2\n", 3, "w")
    assert store.get("nodes/n1/qemu-server/100.conf") is None
    assert store.listdir("nodes") == ["n2"]
    with pytest.raises(NotFound):
        await store.rename("nodes/n1/qemu-server/100.conf", "x.conf")
    with pytest.raises(Conflict):
        await store.rename("nodes/n2/qemu-server/100.conf", "nodes/n2/qemu-server/101.conf")
    assert store.read("nodes/n2/qemu-server/101.conf") == b"x"
    assert store.version == 3
    store.integrity_check()


async def test_rename_is_one_transaction(store: LocalStore, tmp_path: Path) -> None:
    await store.write("a.cfg", b"A")
    await store.rename("a.cfg", "b.cfg")
    await store.close()
    reopened = LocalStore.open(tmp_path / "db" / "config.db", "n1")
    assert [e.path for e in reopened.walk()] == ["b.cfg"]
    assert reopened.version == 2
    await reopened.close()


@pytest.mark.parametrize(
    ("exists", "kwargs", "ok"),
    [
        (True, {"expect_digest": digest(b"old")}, True),
        (True, {"expect_digest": digest(b"other")}, False),
        (True, {"expect_version": 1}, True),
        (True, {"expect_version": 2}, False),
        (True, {"expect_version": 0}, False),
        (False, {"expect_digest": digest(b"")}, True),
        (False, {"expect_digest": digest(b"old")}, False),
        (False, {"expect_version": 0}, True),
        (False, {"expect_version": 1}, False),
    ],
)
async def test_conditional_write(
    store: LocalStore, exists: bool, kwargs: dict[str, object], ok: bool
) -> None:
    if exists:
        await store.write("f.cfg", b"old")
    before = store.version
    if ok:
        await store.write("f.cfg", b"new", **kwargs)  # type: ignore[arg-type]
        assert store.read("f.cfg") == b"new"
    else:
        with pytest.raises(Conflict) as info:
            await store.write("f.cfg", b"new", **kwargs)  # type: ignore[arg-type]
        assert info.value.message == MODIFIED
        assert store.version == before


async def test_conditional_delete(store: LocalStore) -> None:
    await store.write("f.cfg", b"old")
    with pytest.raises(Conflict):
        await store.delete("f.cfg", expect_digest=digest(b"x"))
    await store.delete("f.cfg", expect_digest=digest(b"old"))
    assert store.get("f.cfg") is None


async def test_file_limit(store: LocalStore) -> None:
    await store.write("big.cfg", b"x" * MAX_FILE)
    with pytest.raises(StoreError, match=r"'big2.cfg' too large.*1048576"):
        await store.write("big2.cfg", b"x" * (MAX_FILE + 1))
    assert store.get("big2.cfg") is None


async def test_total_limit(store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pyxis.store.tree.MAX_TOTAL", 10)
    await store.write("a", b"12345")
    await store.write("b", b"12345")
    with pytest.raises(StoreError, match=r"cannot write 'c'.*limit 10 bytes"):
        await store.write("c", b"1")
    await store.write("a", b"1234")  # shrinking makes room
    await store.write("c", b"1")
    assert store.total_bytes == 10


@pytest.mark.parametrize(
    "path", ["", "/etc/pve/storage.cfg", "../x", "a/../b", "a/./b", "a//b", "a/", "a\0b", "a b"]
)
async def test_bad_paths(store: LocalStore, path: str) -> None:
    with pytest.raises(ParamError):
        await store.write(path, b"x")
    with pytest.raises(ParamError):
        await store.create(path, b"x")
    assert store.version == 0


@pytest.mark.parametrize(
    ("first", "second"),
    [("a", "a/b"), ("a/b", "a"), ("a/b/c", "a/b")],
)
async def test_file_and_directory_clash(store: LocalStore, first: str, second: str) -> None:
    await store.write(first, b"1")
    with pytest.raises(Conflict):
        await store.write(second, b"2")


async def test_locks(store: LocalStore) -> None:
    await store.lock("storage-local", "alice", ttl=0.05)
    await store.lock("storage-local", "alice", ttl=0.05)  # renew by holder
    with pytest.raises(Conflict, match="can't lock 'storage-local' - held by alice"):
        await store.lock("storage-local", "bob")
    await store.unlock("storage-local", "bob")  # not the holder: no effect
    assert store.lock_holder("storage-local") == "alice"
    await asyncio.sleep(0.08)
    assert store.lock_holder("storage-local") is None
    await store.lock("storage-local", "bob", ttl=10)  # expired: free to take
    with pytest.raises(Conflict):
        await store.lock("storage-local", "alice")
    await store.unlock("storage-local", "bob")
    await store.lock("storage-local", "alice")
    store.integrity_check()


async def test_watch_in_order(store: LocalStore) -> None:
    await store.write("before.cfg", b"x")
    feed = store.watch()
    await store.write("a.cfg", b"1")
    await store.rename("a.cfg", "b.cfg")
    await store.delete("b.cfg")
    got = [await anext(feed) for _ in range(3)]
    assert got == [
        Change("write", "a.cfg", 2),
        Change("rename", "a.cfg", 3, new_path="b.cfg"),
        Change("delete", "b.cfg", 4),
    ]


async def test_watch_consumer_waits_and_close_ends_feed(tmp_path: Path) -> None:
    s = LocalStore.open(tmp_path / "c.db", "n1")
    feed = s.watch()
    got: list[Change] = []

    async def consume() -> None:
        async for change in feed:
            got.append(change)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    await s.write("x", b"1")
    await asyncio.sleep(0)
    await s.close()
    await asyncio.wait_for(task, 1)
    assert got == [Change("write", "x", 1)]


async def test_watchers_do_not_leak(store: LocalStore) -> None:
    feeds = [store.watch() for _ in range(3)]
    assert store.watcher_count == 3
    await feeds[0].aclose()
    assert store.watcher_count == 2
    del feeds
    gc.collect()
    assert store.watcher_count == 0
    await store.write("x", b"1")


async def test_slow_watcher_is_cut_off(store: LocalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pyxis.store.treestore.WATCH_QUEUE_MAX", 2)
    feed = store.watch()
    for i in range(3):
        await store.write(f"f{i}", b"x")
    assert store.watcher_count == 0
    assert [(await anext(feed)).path for _ in range(2)] == ["f0", "f1"]
    with pytest.raises(StoreError, match="overflowed"):
        await anext(feed)


async def test_reopen_persists_everything(tmp_path: Path) -> None:
    db = tmp_path / "config.db"
    s = LocalStore.open(db, "n1")
    await fill(s, TREE)
    await s.write("storage.cfg", b"changed", writer="root@pam")
    await s.delete("user.cfg")
    await s.rename("priv/shadow.cfg", "priv/shadow2.cfg")
    await s.lock("authkey", "alice", ttl=60)
    entries, version = s.walk(), s.version
    await s.close()
    with pytest.raises(StoreError, match="closed"):
        await s.write("x", b"1")
    r = LocalStore.open(db, "n1")
    assert r.walk() == entries and r.version == version
    assert r.listdir("priv") == ["shadow2.cfg"]
    assert r.lock_holder("authkey") == "alice"
    r.integrity_check()
    await r.close()


async def test_second_opener_refused(store: LocalStore, tmp_path: Path) -> None:
    # The cache is only right for the sole writer, so the file is held from open on.
    for _ in range(2):
        with pytest.raises(StoreError, match="in use"):
            LocalStore.open(tmp_path / "db" / "config.db", "n1")
        await store.write("x", b"1")


async def test_integrity_check_detects_divergence(store: LocalStore) -> None:
    await store.write("x", b"1")
    store.integrity_check()
    store._cache.pop("x")
    with pytest.raises(StoreError, match="cache differs"):
        store.integrity_check()


def test_durability_pragmas(tmp_path: Path) -> None:
    s = LocalStore.open(tmp_path / "p.db", "n1")
    conn = s._db()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    asyncio.run(s.close())
    asyncio.run(LocalStore.open(tmp_path / "p.db", "n1").close())  # close released the lock


@pytest.mark.parametrize(
    ("existing", "new"),
    [
        ("nodes/n1/qemu-server/100.conf", "nodes/n2/qemu-server/100.conf"),
        ("nodes/n1/qemu-server/100.conf", "nodes/n1/lxc/100.conf"),
        ("nodes/n2/lxc/100.conf", "nodes/n1/qemu-server/100.conf"),
    ],
)
async def test_guest_ids_are_unique(store: LocalStore, existing: str, new: str) -> None:
    await store.write(existing, b"a")
    node = existing.split("/")[1]
    for attempt in (store.write(new, b"b"), store.create(new, b"b")):
        with pytest.raises(Conflict, match=f"VM 100 already exists on node '{node}'"):
            await attempt
    await store.write("x.conf", b"c")
    with pytest.raises(Conflict, match="VM 100 already exists"):
        await store.rename("x.conf", new)
    await store.write(existing, b"rewrite is fine")
    await store.delete(existing)
    await store.create(new, b"b")  # free again once deleted
    moved = existing.replace("nodes/n1/", "nodes/n3/").replace("nodes/n2/", "nodes/n3/")
    await store.delete(new)
    await store.write(existing, b"a")
    await store.rename(existing, moved)  # migrating the guest to another node
    assert store.get(moved) is not None
    store.integrity_check()
