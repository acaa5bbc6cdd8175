"""The btrfs storage plugin on a real, loop-mounted btrfs file system.

Each test gets a fresh 1 GiB btrfs in a sparse file below its tmp directory (mkfs.btrfs,
``mount -o loop``); teardown always unmounts and detaches the loop device, pass or
fail.  Needs root, ``btrfs-progs`` and loop devices: without them the tests skip and
say why.  The last test drives the type through a real pyxisd with ``pvesm``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from daemon import Daemon

from pyxis.errors import ParamError, PyxisError
from pyxis.paths import Paths
from pyxis.storage.plugins.btrfs import BtrfsPlugin
from pyxis.storage.plugins.btrfs_ops import has_nocow, is_subvolume

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(shutil.which("mkfs.btrfs") is None, reason="needs btrfs-progs"),
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting a loop btrfs needs root"),
]

MIB = 1024 * 1024
ALL_CONTENT = {"images", "rootdir", "iso", "vztmpl", "backup", "snippets", "import"}


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check)


def _cleanup(mnt: Path, img: Path) -> None:
    if os.path.ismount(mnt) and sh("umount", str(mnt), check=False).returncode != 0:
        sh("umount", "-l", str(mnt), check=False)
    # mount -o loop sets autoclear; detach explicitly in case it did not.
    for line in sh("losetup", "-j", str(img), check=False).stdout.splitlines():
        sh("losetup", "-d", line.split(":", 1)[0], check=False)


@pytest.fixture
def btrfs_fs(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A mounted btrfs; quotas on unless the test is marked ``no_quotas`` via param."""
    quotas = getattr(request, "param", True)
    img, mnt = tmp_path / "btrfs.img", tmp_path / "mnt"
    with img.open("wb") as fh:
        fh.truncate(1024 * MIB)
    sh("mkfs.btrfs", "-q", str(img))
    mnt.mkdir()
    res = sh("mount", "-o", "loop", str(img), str(mnt), check=False)
    if res.returncode != 0:
        pytest.skip(f"cannot loop-mount a btrfs here: {res.stderr.strip()}")
    try:
        if quotas:
            sh("btrfs", "quota", "enable", str(mnt))
        yield mnt
    finally:
        _cleanup(mnt, img)


@pytest.fixture
async def store(btrfs_fs: Path) -> BtrfsPlugin:
    scfg: dict[str, Any] = {
        "path": str(btrfs_fs),
        "content": set(ALL_CONTENT),
        "is_mountpoint": "1",
    }
    plugin = BtrfsPlugin("bt", scfg, Paths.at(btrfs_fs.parent))
    await plugin.activate()
    return plugin


def subvol_info(path: Path | str) -> dict[str, str]:
    out = sh("btrfs", "subvolume", "show", str(path)).stdout
    info = {}
    for line in out.splitlines()[1:]:
        key, sep, value = line.strip().partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


def write_at(path: str, offset: int, data: bytes) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)


def read_at(path: str, offset: int, n: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(offset)
        return fh.read(n)


async def test_activate_layout_status(store: BtrfsPlugin, tmp_path: Path) -> None:
    for sub in ("images", "template/iso", "template/cache", "dump", "snippets", "import"):
        assert (store.base / sub).is_dir(), sub
    st = await store.status()
    assert st["active"] == 1 and 0 < st["total"] <= 1024 * MIB
    other = BtrfsPlugin("x", {"path": str(tmp_path / "plain")}, Paths.at(tmp_path))
    (tmp_path / "plain").mkdir()
    if sh("stat", "-f", "-c", "%T", str(tmp_path)).stdout.strip() != "btrfs":
        with pytest.raises(PyxisError, match="not a btrfs"):
            await other.activate()


async def test_alloc_raw_list_free(store: BtrfsPlugin) -> None:
    v0 = await store.alloc_image(100, "raw", None, 4 * 1024)
    v1 = await store.alloc_image(100, None, None, 1024)
    assert (v0, v1) == ("100/vm-100-disk-0.raw", "100/vm-100-disk-1.raw")
    path = Path(store.path(v0))
    assert path == store.base / "images/100/vm-100-disk-0/disk.raw"
    assert is_subvolume(path.parent) and subvol_info(path.parent)["Name"] == "vm-100-disk-0"
    assert path.stat().st_size == 4 * MIB and path.stat().st_blocks == 0  # sparse
    size, fmt, _, parent = await store.volume_size_info(v0)
    assert (size, fmt, parent) == (4 * MIB, "raw", None)
    named = await store.alloc_image(100, "raw", "vm-100-cloudinit.raw", 64)
    assert named == "100/vm-100-cloudinit.raw"
    vols = await store.list_volumes({"images"})
    assert [v["volid"] for v in vols] == [f"bt:{v}" for v in (named, v0, v1)]
    assert vols[1]["size"] == 4 * MIB and vols[1]["format"] == "raw" and vols[1]["vmid"] == 100
    assert {v["content"] for v in await store.list_volumes(None, 100, ct_ids={100})} == {"rootdir"}
    with pytest.raises(PyxisError, match="already exists"):
        await store.alloc_image(100, "raw", "vm-100-cloudinit.raw", 64)
    for bad in ("vm-101-disk-0.raw", "vm-100-disk-0.qcow2", "vm-100-a@b.raw", "vm-100-a.b.raw"):
        with pytest.raises(ParamError):
            await store.alloc_image(100, "raw", bad, 64)
    with pytest.raises(ParamError):
        await store.alloc_image(100, "qcow2", None, 64)
    for vol in (v0, v1, named):
        await store.free_image(vol)
    assert not (store.base / "images/100").exists()


async def test_subvol_with_quota_and_resize(store: BtrfsPlugin) -> None:
    vol = await store.alloc_image(100, "subvol", None, 8 * 1024)
    assert vol == "100/subvol-100-disk-0.subvol"
    path = Path(store.path(vol))
    assert path == store.base / "images/100/subvol-100-disk-0.subvol" and is_subvolume(path)
    assert subvol_info(path)["Limit referenced"] == "8.00MiB"
    (path / "small").write_bytes(b"x" * MIB)
    sh("btrfs", "filesystem", "sync", str(path))  # qgroup usage is counted at commit
    size, fmt, used, _ = await store.volume_size_info(vol)
    assert (size, fmt) == (8 * MIB, "subvol") and used >= MIB
    with pytest.raises(OSError), (path / "big").open("wb") as fh:  # the limit holds
        for _ in range(32):
            fh.write(b"y" * MIB)
            fh.flush()
            os.fsync(fh.fileno())
    (path / "big").unlink()
    await store.resize(vol, 64 * MIB)
    assert (await store.volume_size_info(vol))[0] == 64 * MIB
    with pytest.raises(ParamError):
        await store.resize(vol, 16 * MIB)
    [item] = await store.list_volumes({"images", "rootdir"}, 100, ct_ids={100})
    assert (item["volid"], item["format"], item["size"], item["content"]) == (
        f"bt:{vol}",
        "subvol",
        64 * MIB,
        "rootdir",
    )


@pytest.mark.parametrize("btrfs_fs", [False], indirect=True)
async def test_subvol_without_quotas(store: BtrfsPlugin) -> None:
    with pytest.raises(PyxisError, match="quotas are not enabled"):
        await store.alloc_image(100, "subvol", None, 1024)
    assert not (store.base / "images/100/subvol-100-disk-0.subvol").exists()
    vol = await store.alloc_image(100, "subvol", None, 0)
    assert await store.volume_size_info(vol) == (0, "subvol", 0, None)
    with pytest.raises(PyxisError, match="quotas"):
        await store.resize(vol, MIB)


async def test_nocow(btrfs_fs: Path) -> None:
    plugin = BtrfsPlugin("bt", {"path": str(btrfs_fs), "nocow": 1}, Paths.at(btrfs_fs.parent))
    await plugin.activate()
    vol = await plugin.alloc_image(100, "raw", None, 1024)
    assert has_nocow(Path(plugin.path(vol)))
    plain = BtrfsPlugin("bt", {"path": str(btrfs_fs)}, Paths.at(btrfs_fs.parent))
    assert not has_nocow(Path(plain.path(await plain.alloc_image(100, "raw", None, 1024))))


async def test_snapshot_rollback_raw(store: BtrfsPlugin) -> None:
    vol = await store.alloc_image(100, "raw", None, 1024)
    disk = store.path(vol)
    write_at(disk, 4096, b"before")
    await store.snapshot(vol, "s1")
    snap = store.base / "images/100/vm-100-disk-0@s1"
    assert is_subvolume(snap) and "readonly" in subvol_info(snap)["Flags"]
    assert store.path(vol, "s1") == str(snap / "disk.raw")
    with pytest.raises(PyxisError, match="already exists"):
        await store.snapshot(vol, "s1")
    write_at(disk, 4096, b"after!")
    await store.rollback(vol, "s1")
    assert read_at(store.path(vol), 4096, 6) == b"before"
    assert is_subvolume(snap)  # the snapshot survives its rollback
    assert sorted(os.listdir(store.base / "images/100")) == ["vm-100-disk-0", "vm-100-disk-0@s1"]
    assert [v["volid"] for v in await store.list_volumes({"images"})] == [f"bt:{vol}"]
    with pytest.raises(PyxisError, match="does not exist"):
        await store.rollback(vol, "nosuch")
    for bad in ("-x", "../../x", "a/b"):
        with pytest.raises(ParamError):
            await store.snapshot(vol, bad)
    await store.delete_snapshot(vol, "s1")
    assert not snap.exists()


async def test_snapshot_rollback_subvol(store: BtrfsPlugin) -> None:
    vol = await store.alloc_image(100, "subvol", None, 16 * 1024)
    root = Path(store.path(vol))
    (root / "etc").mkdir()
    (root / "etc/hostname").write_text("ct100\n")
    await store.snapshot(vol, "first")
    (root / "etc/hostname").write_text("changed\n")
    (root / "new").write_text("x")
    await store.rollback(vol, "first")
    assert (root / "etc/hostname").read_text() == "ct100\n" and not (root / "new").exists()
    assert (await store.volume_size_info(vol))[0] == 16 * MIB  # the limit came along
    await store.delete_snapshot(vol, "first")


async def test_template_and_linked_clone(store: BtrfsPlugin) -> None:
    vol = await store.alloc_image(100, "raw", None, 1024)
    write_at(store.path(vol), 0, b"template data")
    base = await store.create_base(vol)
    assert base == "100/base-100-disk-0.raw"
    base_sub = store.base / "images/100/base-100-disk-0"
    assert "readonly" in subvol_info(base_sub)["Flags"]
    with pytest.raises(OSError):
        write_at(store.path(base), 0, b"x")
    with pytest.raises(PyxisError):
        await store.create_base(base)
    clone = await store.clone_image(base, 101)
    assert clone == "101/vm-101-disk-0.raw"
    clone_sub = Path(store.path(clone)).parent
    assert subvol_info(clone_sub)["Parent UUID"] == subvol_info(base_sub)["UUID"]
    assert read_at(store.path(clone), 0, 13) == b"template data"
    write_at(store.path(clone), 0, b"clone")  # the clone is writable
    assert read_at(store.path(base), 0, 13) == b"template data"
    # container templates: the quota limit goes along with the clone
    ct = await store.alloc_image(102, "subvol", None, 32 * 1024)
    (Path(store.path(ct)) / "file").write_text("ct")
    ctbase = await store.create_base(ct)
    assert ctbase == ct  # as upstream: subvol templates keep their name, made read-only
    assert "readonly" in subvol_info(store.path(ct))["Flags"]
    ctclone = await store.clone_image(ctbase, 103)
    assert ctclone == "103/subvol-103-disk-0.subvol"
    assert (Path(store.path(ctclone)) / "file").read_text() == "ct"
    assert (await store.volume_size_info(ctclone))[0] == 32 * MIB
    await store.free_image(clone)
    await store.free_image(base)
    assert not (store.base / "images/100").exists()


async def test_full_copy(store: BtrfsPlugin) -> None:
    vol = await store.alloc_image(100, "raw", None, 2048)
    write_at(store.path(vol), MIB, b"one")
    await store.snapshot(vol, "s1")
    write_at(store.path(vol), MIB, b"two")
    copy = await store.copy_image(vol, 200)
    assert copy == "200/vm-200-disk-0.raw"
    assert subvol_info(Path(store.path(copy)).parent)["Parent UUID"] == "-"
    assert read_at(store.path(copy), MIB, 3) == b"two"
    assert os.path.getsize(store.path(copy)) == 2 * MIB
    old = await store.copy_image(vol, 200, snap="s1")
    assert old == "200/vm-200-disk-1.raw" and read_at(store.path(old), MIB, 3) == b"one"
    with pytest.raises(PyxisError) as err:
        await store.copy_image(vol, 200, "qcow2")
    assert err.value.status == 501
    ct = await store.alloc_image(101, "subvol", None, 8 * 1024)
    (Path(store.path(ct)) / "data").write_text("hello")
    os.chmod(Path(store.path(ct)) / "data", 0o640)
    ctcopy = await store.copy_image(ct, 201)
    target = Path(store.path(ctcopy)) / "data"
    assert target.read_text() == "hello" and target.stat().st_mode & 0o777 == 0o640
    assert subvol_info(store.path(ctcopy))["Parent UUID"] == "-"
    assert (await store.volume_size_info(ctcopy))[0] == 8 * MIB


async def test_free_removes_snapshots(store: BtrfsPlugin) -> None:
    vol = await store.alloc_image(100, "raw", None, 1024)
    ct = await store.alloc_image(100, "subvol", None, 0)
    for snap in ("s1", "s2"):
        await store.snapshot(vol, snap)
        await store.snapshot(ct, snap)
    await store.free_image(vol)
    assert sorted(os.listdir(store.base / "images/100")) == [
        "subvol-100-disk-1.subvol",
        "subvol-100-disk-1.subvol@s1",
        "subvol-100-disk-1.subvol@s2",
    ]
    await store.free_image(ct)
    assert not (store.base / "images/100").exists()
    listed = sh("btrfs", "subvolume", "list", str(store.base)).stdout
    assert "images/100" not in listed


async def test_export_import_btrfs(store: BtrfsPlugin, btrfs_fs: Path) -> None:
    second = BtrfsPlugin("bt2", {"path": str(btrfs_fs / "second")}, Paths.at(btrfs_fs.parent))
    await second.activate()
    vol = await store.alloc_image(100, "raw", None, 1024)
    write_at(store.path(vol), 0, b"AAAA")
    await store.snapshot(vol, "s1")
    write_at(store.path(vol), 0, b"BBBB")
    assert store.export_formats(vol) == ["btrfs", "raw+size"]
    assert store.export_formats(vol, with_snapshots=True) == ["btrfs"]
    stream = btrfs_fs.parent / "stream.btrfs"
    await store.volume_export(vol, "btrfs", stream, with_snapshots=True)
    assert not (store.base / "images/100/vm-100-disk-0@__export__").exists()
    new = await second.volume_import(300, None, "btrfs", stream)
    assert new == "300/vm-300-disk-0.raw"
    assert read_at(second.path(new), 0, 4) == b"BBBB"
    assert read_at(second.path(new, "s1"), 0, 4) == b"AAAA"
    assert "readonly" in subvol_info(Path(second.path(new, "s1")).parent)["Flags"]
    assert "readonly" not in subvol_info(Path(second.path(new)).parent)["Flags"]
    write_at(second.path(new), 0, b"CCCC")  # writable
    assert sorted(os.listdir(second.base / "images/300")) == ["vm-300-disk-0", "vm-300-disk-0@s1"]
    # a named state through a FIFO: that snapshot becomes the volume and stays a snapshot
    fifo = btrfs_fs.parent / "pipe"
    os.mkfifo(fifo)
    _, named = await asyncio.gather(
        store.volume_export(vol, "btrfs", fifo, snapshot="s1"),
        second.volume_import(300, "vm-300-disk-5.raw", "btrfs", fifo, snapshot="s1"),
    )
    assert named == "300/vm-300-disk-5.raw"
    assert read_at(second.path(named), 0, 4) == b"AAAA"
    assert is_subvolume(Path(second.path(named, "s1")).parent)
    # the wrong expected state: refused, nothing left behind
    await store.volume_export(vol, "btrfs", stream)
    with pytest.raises(PyxisError, match="expected snapshot 'other'"):
        await second.volume_import(301, None, "btrfs", stream, snapshot="other")
    assert os.listdir(second.base / "images/301") == []
    # a container volume
    ct = await store.alloc_image(101, "subvol", None, 0)
    (Path(store.path(ct)) / "f").write_text("ct data")
    await store.volume_export(ct, "btrfs", stream)
    ctnew = await second.volume_import(301, None, "btrfs", stream)
    assert ctnew == "301/subvol-301-disk-0.subvol"
    assert (Path(second.path(ctnew)) / "f").read_text() == "ct data"


async def test_export_import_sized(store: BtrfsPlugin, btrfs_fs: Path) -> None:
    vol = await store.alloc_image(100, "raw", None, 1024)
    write_at(store.path(vol), 8192, b"pyxis raw")
    stream = btrfs_fs.parent / "stream.raw"
    await store.volume_export(vol, "raw+size", stream)
    assert stream.stat().st_size == 8 + MIB
    new = await store.volume_import(400, None, "raw+size", stream)
    assert new == "400/vm-400-disk-0.raw"
    assert Path(store.path(new)).read_bytes() == Path(store.path(vol)).read_bytes()
    ct = await store.alloc_image(101, "subvol", None, 4096)
    root = Path(store.path(ct))
    (root / "dir").mkdir()
    (root / "dir/file").write_text("tar me")
    os.chown(root / "dir/file", 1234, 5678)
    assert store.export_formats(ct) == ["btrfs", "tar+size"]
    for target in (btrfs_fs.parent / "stream.tar", btrfs_fs.parent / "tarpipe"):
        if target.name == "tarpipe":
            os.mkfifo(target)
            _, ctnew = await asyncio.gather(
                store.volume_export(ct, "tar+size", target),
                store.volume_import(401, None, "tar+size", target),
            )
        else:
            await store.volume_export(ct, "tar+size", target)
            ctnew = await store.volume_import(401, None, "tar+size", target)
        got = Path(store.path(ctnew)) / "dir/file"
        assert got.read_text() == "tar me" and (got.stat().st_uid, got.stat().st_gid) == (
            1234,
            5678,
        )
        assert (await store.volume_size_info(ctnew))[0] == 4 * MIB
    with pytest.raises(ParamError):
        await store.volume_export(ct, "raw+size", stream)
    with pytest.raises(ParamError):
        await store.volume_import(402, None, "qcow2+size", stream)


async def test_path_containment(store: BtrfsPlugin, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (store.base / "images").mkdir(exist_ok=True)
    os.symlink(outside, store.base / "images/666")
    with pytest.raises(ParamError):
        await store.alloc_image(666, "raw", None, 64)
    with pytest.raises(ParamError):
        store.path("666/vm-666-disk-0.raw")
    assert os.listdir(outside) == []
    for bad in (
        "../100/vm-100-disk-0.raw",
        "100/../../etc",
        "/etc/passwd",
        "100/vm-100-disk-0.raw\n",
    ):
        with pytest.raises(ParamError):
            store.path(bad)
    vol = await store.alloc_image(100, "raw", None, 64)
    with pytest.raises(ParamError):
        store.path(vol, "../../x")
    with pytest.raises(ParamError):
        await store.free_image("666/vm-666-disk-0.raw")


def test_pvesm_add_alloc_list(daemon: Daemon, btrfs_fs: Path) -> None:
    d = daemon
    out = d.ok(
        "pvesm", "add", "btrfs", "bfs", "--path", str(btrfs_fs), "--content", "images,rootdir,iso"
    )
    assert out == ""
    cfg = json.loads(d.ok("pvesh", "get", "/storage/bfs", "--output-format", "json"))
    assert (cfg["type"], cfg["path"]) == ("btrfs", str(btrfs_fs))
    assert set(cfg["content"].split(",")) == {"images", "iso", "rootdir"}
    volid = d.ok("pvesm", "alloc", "bfs", "100", "vm-100-disk-0", "16M").strip()
    assert volid == "bfs:100/vm-100-disk-0.raw"
    disk = btrfs_fs / "images/100/vm-100-disk-0/disk.raw"
    assert disk.stat().st_size == 16 * MIB and is_subvolume(disk.parent)
    assert Path(d.ok("pvesm", "path", volid).strip()) == disk
    lines = [ln.split() for ln in d.ok("pvesm", "list", "bfs").splitlines() if ln.strip()]
    assert lines[0][:2] == ["Volid", "Format"]
    assert [volid, "raw", "images", str(16 * MIB), "100"] in [ln[:5] for ln in lines[1:]]
    bad = d.cli("pvesm", "alloc", "bfs", "100", "vm-100-disk-1", "16M", "--format", "qcow2")
    assert bad.returncode != 0 and "format" in bad.stderr
    d.ok("pvesm", "free", volid)
    assert not (btrfs_fs / "images/100").exists()
