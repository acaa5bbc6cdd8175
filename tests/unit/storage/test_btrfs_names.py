"""Naming and parsing rules of the btrfs storage type (pure, table-driven)."""

from __future__ import annotations

import pytest

from pyxis.storage.plugins.btrfs import BtrfsPlugin
from pyxis.storage.plugins.btrfs_names import (
    EXPORT_SNAP,
    Entry,
    parse_entry,
    parse_qgroup,
    parse_rootid,
    received_plan,
    snap_dir,
    subvol_dir,
)
from pyxis.storage.registry import create_schema, plugin_class, update_schema


@pytest.mark.parametrize(
    ("image", "fmt", "expected"),
    [
        ("vm-100-disk-0.raw", "raw", "vm-100-disk-0"),
        ("base-100-disk-1.raw", "raw", "base-100-disk-1"),
        ("subvol-100-disk-0.subvol", "subvol", "subvol-100-disk-0.subvol"),
        ("vm-100-disk-0.qcow2", "raw", None),
        ("vm-100-disk-0.raw", "subvol", None),
        ("vm-100-disk-0.qcow2", "qcow2", None),
    ],
)
def test_subvol_dir(image: str, fmt: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            subvol_dir(image, fmt)
    else:
        assert subvol_dir(image, fmt) == expected


@pytest.mark.parametrize(
    ("snap", "ok"),
    [("s1", True), ("__export__", True), ("a.b", True), ("../x", False), ("", False),
     (".hidden", False), ("a/b", False), ("a b", False)],
)  # fmt: skip
def test_snap_dir(snap: str, ok: bool) -> None:
    if ok:
        assert snap_dir("vm-1-disk-0", snap) == f"vm-1-disk-0@{snap}"
    else:
        with pytest.raises(ValueError):
            snap_dir("vm-1-disk-0", snap)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("vm-100-disk-0", Entry("vm-100-disk-0", "vm-100-disk-0.raw", "raw")),
        ("vm-100-disk-0@s1", Entry("vm-100-disk-0", "vm-100-disk-0.raw", "raw", "s1")),
        ("base-100-disk-2", Entry("base-100-disk-2", "base-100-disk-2.raw", "raw")),
        ("vm-100-cloudinit", Entry("vm-100-cloudinit", "vm-100-cloudinit.raw", "raw")),
        (
            "subvol-100-disk-0.subvol",
            Entry("subvol-100-disk-0.subvol", "subvol-100-disk-0.subvol", "subvol"),
        ),
        (
            "subvol-100-disk-0.subvol@snap_1",
            Entry("subvol-100-disk-0.subvol", "subvol-100-disk-0.subvol", "subvol", "snap_1"),
        ),
        ("vm-100-disk-3.qcow2", Entry("vm-100-disk-3.qcow2", "vm-100-disk-3.qcow2", "qcow2")),
        ("vm-100-disk-3.qcow2@s1", None),  # files have no btrfs snapshots
        ("vm-100-disk-0.raw", None),  # a raw *file* is not this layout
        ("recv.100.tmp", None),
        ("vm-100-disk-0.tmp.4242", None),  # a rollback in progress
        ("disk.raw", None),
        ("other", None),
        ("vm-100-disk-0@", None),
        ("vm-100-disk-0@.x", None),
    ],
)
def test_parse_entry(name: str, expected: Entry | None) -> None:
    assert parse_entry(name) == expected


@pytest.mark.parametrize(
    ("names", "current", "expected"),
    [
        (["vm-1-disk-0@__export__"], EXPORT_SNAP, ("vm-1-disk-0", [])),
        (["vm-1-disk-0@b", "vm-1-disk-0@a", "vm-1-disk-0@s"], "s", ("vm-1-disk-0", ["a", "b"])),
        (["subvol-1-disk-0.subvol@s"], "s", ("subvol-1-disk-0.subvol", [])),
        (["vm-1-disk-0@a"], "s", "did not contain"),
        (["vm-1-disk-0"], "s", "non-snapshot"),
        (["vm-1-disk-0@s", "vm-1-disk-1@a"], "s", "multiple disks"),
        (["junk"], "s", "unexpected"),
        (["vm-1-disk-0.qcow2"], "s", "unexpected"),
        ([], "s", "did not contain"),
    ],
)
def test_received_plan(names: list[str], current: str, expected: object) -> None:
    if isinstance(expected, str):
        with pytest.raises(ValueError, match=expected):
            received_plan(names, current)
        return
    entry, others = received_plan(names, current)
    assert (entry.subvol, others) == expected
    assert entry.snap == current


QGROUP_SHOW = """\
Qgroupid    Referenced    Exclusive  Max referenced   Path
--------    ----------    ---------  --------------   ----
0/5              16384        16384            none   <toplevel>
0/256            16384        16384       104857600   images/100/subvol-100-disk-0.subvol
0/257           110592        16384            none   images/100/vm-100-disk-0
"""


@pytest.mark.parametrize(
    ("sid", "expected"),
    [(256, (16384, 104857600)), (257, (110592, None)), (5, (16384, None)), (999, None)],
)
def test_parse_qgroup(sid: int, expected: tuple[int, int | None] | None) -> None:
    if expected is None:
        with pytest.raises(ValueError):
            parse_qgroup(QGROUP_SHOW, sid)
    else:
        assert parse_qgroup(QGROUP_SHOW, sid) == expected


def test_parse_rootid() -> None:
    assert parse_rootid("257\n") == 257
    with pytest.raises(ValueError):
        parse_rootid("ERROR: not a btrfs filesystem")


def test_declarations_and_schemas() -> None:
    assert plugin_class("btrfs") is BtrfsPlugin
    assert BtrfsPlugin.formats == ({"raw", "subvol"}, "raw")
    assert "import" in BtrfsPlugin.content[0]
    create, update = create_schema(), update_schema()
    assert "btrfs" in create["type"]["enum"]
    assert create["nocow"] == {"type": "boolean", "default": 0, "optional": 1}
    assert "nocow" in update and "path" in create
    cfg = BtrfsPlugin.check_config(
        {"path": "/mnt/b", "content": "images,rootdir", "nocow": "1"}, True
    )
    assert cfg["content"] == {"images", "rootdir"} and cfg["nocow"] == 1
    with pytest.raises(Exception, match="verification"):
        BtrfsPlugin.check_config({"path": "/mnt/b", "format": "qcow2"}, True)
    with pytest.raises(Exception, match="verification"):
        BtrfsPlugin.check_config({"path": "/mnt/b", "content-dirs": "iso=x"}, True)
    assert BtrfsPlugin.has_feature("snapshot", "raw") and BtrfsPlugin.has_feature(
        "clone", "subvol", base=True
    )
    assert not BtrfsPlugin.has_feature("snapshot", "qcow2")
