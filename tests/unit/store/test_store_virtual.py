"""Unit tests of the virtual JSON entries ``.members``, ``.vmlist`` and ``.version``."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pyxis.store.local import LocalStore
from pyxis.store.virtual import (
    ClusterInfo,
    MemberNode,
    members_json,
    version_json,
    vmlist_json,
)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LocalStore]:
    s = LocalStore.open(tmp_path / "config.db", "n1")
    yield s
    await s.close()


async def test_members_local_mode(store: LocalStore) -> None:
    await store.write("storage.cfg", b"")
    assert members_json(store, "n1") == {
        "nodename": "n1",
        "version": 1,
        "nodelist": {"n1": {"id": 1, "online": 1}},
    }
    assert members_json(store, "n1", ip="10.0.0.1")["nodelist"]["n1"]["ip"] == "10.0.0.1"


async def test_members_cluster(store: LocalStore) -> None:
    info = ClusterInfo(
        name="lab",
        config_version=3,
        quorate=True,
        version=7,
        nodes={
            "n2": MemberNode(2, False, "10.0.0.2"),
            "n1": MemberNode(1, True, "10.0.0.1"),
        },
    )
    assert members_json(store, "n1", info) == {
        "nodename": "n1",
        "version": 7,
        "cluster": {"name": "lab", "version": 3, "nodes": 2, "quorate": 1},
        "nodelist": {
            "n1": {"id": 1, "online": 1, "ip": "10.0.0.1"},
            "n2": {"id": 2, "online": 0, "ip": "10.0.0.2"},
        },
    }


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        ([], {}),
        (
            ["nodes/n1/qemu-server/100.conf", "nodes/n2/lxc/200.conf"],
            {"100": ("n1", "qemu"), "200": ("n2", "lxc")},
        ),
        (
            # not guests: bad vmid, wrong suffix, wrong depth, wrong directory
            [
                "nodes/n1/qemu-server/99.conf",
                "nodes/n1/qemu-server/0100.conf",
                "nodes/n1/qemu-server/101.conf.tmp",
                "nodes/n1/qemu-server/x/102.conf",
                "nodes/n1/openvz/103.conf",
                "nodes/n1/host.fw",
                "firewall/104.fw",
            ],
            {},
        ),
        (
            ["nodes/n2/qemu-server/100.conf", "nodes/n1/lxc/100.conf"],
            {"100": ("n1", "lxc")},
        ),
    ],
)
async def test_vmlist(
    tmp_path: Path, paths: list[str], expected: dict[str, tuple[str, str]]
) -> None:
    # Seeded below the store: the store itself refuses a second config for one guest ID
    # (the duplicate case stands for a tree written by something older or by hand).
    db = tmp_path / "vmlist.db"
    await LocalStore.open(db, "n1").close()
    conn = sqlite3.connect(db)
    with conn:
        for version, p in enumerate(paths, 1):
            conn.execute("INSERT INTO entries VALUES (?, x'', ?, 0, '')", (p, version))
        conn.execute("UPDATE meta SET value = ? WHERE key = 'version'", (len(paths),))
        conn.execute("DELETE FROM meta_text")
    conn.close()
    store = LocalStore.open(db, "n1")
    got = vmlist_json(store)
    assert got["version"] == store.version
    assert {k: (v["node"], v["type"]) for k, v in got["ids"].items()} == expected
    for vmid, info in got["ids"].items():
        path = f"nodes/{info['node']}/{'qemu-server' if info['type'] == 'qemu' else 'lxc'}"
        entry = store.get(f"{path}/{vmid}.conf")
        assert entry is not None and info["version"] == entry.version
    await store.close()


async def test_version(store: LocalStore) -> None:
    await store.write("storage.cfg", b"a")
    await store.write("user.cfg", b"b")
    await store.write("nodes/n1/qemu-server/100.conf", b"c")
    await store.write("storage.cfg", b"d")
    assert version_json(store) == {
        "version": 4,
        "vmlist": 4,
        "storage.cfg": 4,
        "user.cfg": 2,
    }
