"""The dir storage plugin against real qemu-img in a temporary directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pyxis.errors import ParamError, PyxisError
from pyxis.paths import Paths
from pyxis.storage.plugins.dir import DirPlugin

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(shutil.which("qemu-img") is None, reason="needs qemu-img"),
]

ALL_CONTENT = {"images", "rootdir", "iso", "vztmpl", "backup", "snippets", "import"}
GIB = 1024**3


@pytest.fixture
async def store(tmp_path: Path) -> DirPlugin:
    scfg: dict[str, Any] = {
        "type": "dir",
        "path": str(tmp_path / "store"),
        "content": set(ALL_CONTENT),
    }
    plugin = DirPlugin("st1", scfg, Paths.at(tmp_path))
    await plugin.activate()
    return plugin


def qemu_info(path: str) -> dict[str, Any]:
    out = subprocess.run(
        ["qemu-img", "info", "--output=json", "-U", path],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


async def test_activate_creates_layout(store: DirPlugin) -> None:
    for sub in (
        "images",
        "private",
        "template/iso",
        "template/cache",
        "dump",
        "snippets",
        "import",
    ):
        assert (store.base / sub).is_dir(), sub


async def test_activate_without_mkdir(tmp_path: Path) -> None:
    plugin = DirPlugin(
        "st2", {"path": str(tmp_path / "missing"), "create-base-path": 0}, Paths.at(tmp_path)
    )
    with pytest.raises(PyxisError, match="does not exist"):
        await plugin.activate()


async def test_status(store: DirPlugin) -> None:
    st = await store.status()
    assert st["active"] == 1 and st["total"] > 0
    assert 0 <= st["avail"] <= st["total"] and 0 <= st["used"] <= st["total"]


@pytest.mark.parametrize("fmt", ["raw", "qcow2", "vmdk"])
async def test_alloc_list_size_free(store: DirPlugin, fmt: str) -> None:
    v0 = await store.alloc_image(100, fmt, None, 1024 * 1024)
    v1 = await store.alloc_image(100, fmt, None, 2048)
    assert v0 == f"100/vm-100-disk-0.{fmt}" and v1 == f"100/vm-100-disk-1.{fmt}"
    assert qemu_info(store.path(v0))["format"] == fmt
    size, got_fmt, used, parent = await store.volume_size_info(v0)
    assert (size, got_fmt, parent) == (GIB, fmt, None)
    assert used < GIB  # sparse
    vols = await store.list_volumes({"images"})
    assert [v["volid"] for v in vols] == [f"st1:{v0}", f"st1:{v1}"]
    assert vols[0]["size"] == GIB and vols[0]["vmid"] == 100
    assert vols[0]["content"] == "images" and vols[0]["format"] == fmt
    assert await store.list_volumes({"images"}, vmid=101) == []
    ct = await store.list_volumes(None, vmid=100, ct_ids={100})
    assert {v["content"] for v in ct} == {"rootdir"}
    await store.free_image(v0)
    await store.free_image(v1)
    assert not (store.base / "images" / "100").exists()


async def test_alloc_named_and_errors(store: DirPlugin) -> None:
    vol = await store.alloc_image(100, "qcow2", "vm-100-cloudinit.qcow2", 4096)
    assert vol == "100/vm-100-cloudinit.qcow2"
    with pytest.raises(PyxisError, match="already exists"):
        await store.alloc_image(100, "qcow2", "vm-100-cloudinit.qcow2", 4096)
    with pytest.raises(ParamError):
        await store.alloc_image(100, "raw", "vm-101-disk-0.raw", 4096)
    with pytest.raises(ParamError):
        await store.alloc_image(100, "raw", "vm-100-disk-0.qcow2", 4096)
    with pytest.raises(ParamError):
        await store.alloc_image(100, "raw", "vm-100-../../x.raw", 4096)
    with pytest.raises(ParamError):
        await store.alloc_image(100, "qed", None, 4096)


async def test_default_format_and_subvol(store: DirPlugin) -> None:
    assert await store.alloc_image(105, None, None, 1024) == "105/vm-105-disk-0.raw"
    sub = await store.alloc_image(105, "subvol", None, 0)
    assert sub == "105/subvol-105-disk-1.subvol"
    assert Path(store.path(sub)).is_dir()
    await store.free_image(sub)
    assert not Path(store.path(sub)).exists()


async def test_resize(store: DirPlugin) -> None:
    raw = await store.alloc_image(100, "raw", None, 1024)
    qc = await store.alloc_image(100, "qcow2", None, 1024)
    for vol in (raw, qc):
        await store.resize(vol, 2 * 1024 * 1024)
        assert (await store.volume_size_info(vol))[0] == 2 * 1024 * 1024
        with pytest.raises(ParamError):
            await store.resize(vol, 1024)
    vmdk = await store.alloc_image(100, "vmdk", None, 1024)
    with pytest.raises(PyxisError) as err:
        await store.resize(vmdk, 4 * 1024 * 1024)
    assert err.value.status == 501


async def test_snapshots(store: DirPlugin) -> None:
    vol = await store.alloc_image(100, "qcow2", None, 1024)
    await store.snapshot(vol, "snap1")
    names = [s["name"] for s in qemu_info(store.path(vol)).get("snapshots", [])]
    assert names == ["snap1"]
    await store.rollback(vol, "snap1")
    await store.delete_snapshot(vol, "snap1")
    assert not qemu_info(store.path(vol)).get("snapshots")
    with pytest.raises(ParamError):
        await store.snapshot(vol, "-oops")
    raw = await store.alloc_image(100, "raw", None, 1024)
    with pytest.raises(PyxisError) as err:
        await store.snapshot(raw, "snap1")
    assert err.value.status == 501


@pytest.mark.parametrize("fmt", ["qcow2", "raw"])
async def test_template_and_linked_clone(store: DirPlugin, fmt: str) -> None:
    vol = await store.alloc_image(100, fmt, None, 1024 * 1024)
    base = await store.create_base(vol)
    assert base == f"100/base-100-disk-0.{fmt}"
    assert not os.access(store.path(base), os.W_OK) or os.geteuid() == 0
    assert os.stat(store.path(base)).st_mode & 0o777 == 0o444
    with pytest.raises(PyxisError):
        await store.create_base(base)
    clone = await store.clone_image(base, 101)
    assert clone == f"100/base-100-disk-0.{fmt}/101/vm-101-disk-0.qcow2"
    info = qemu_info(store.path(clone))
    assert info["backing-filename"] == f"../100/base-100-disk-0.{fmt}"
    assert (await store.volume_size_info(clone))[0] == 1024 * 1024 * 1024
    vols = {v["volid"]: v for v in await store.list_volumes({"images"})}
    assert vols[f"st1:{clone}"]["parent"] == f"../100/base-100-disk-0.{fmt}"
    with pytest.raises(PyxisError, match="linked clones"):
        await store.free_image(base)
    with pytest.raises(PyxisError):
        await store.clone_image(clone, 102)  # not a base
    # a template made from the linked clone keeps its parent in the volname
    base2 = await store.create_base(clone)
    assert base2 == f"100/base-100-disk-0.{fmt}/101/base-101-disk-0.qcow2"
    clone2 = await store.clone_image(base2, 102)
    assert clone2 == "101/base-101-disk-0.qcow2/102/vm-102-disk-0.qcow2"
    await store.free_image(clone2)
    await store.free_image(base2)
    await store.free_image(base)


async def test_full_copy(store: DirPlugin) -> None:
    vol = await store.alloc_image(100, "qcow2", None, 1024)
    await store.snapshot(vol, "s1")
    copy = await store.copy_image(vol, 200)
    assert copy == "200/vm-200-disk-0.qcow2"
    assert not qemu_info(store.path(copy)).get("snapshots")
    raw = await store.copy_image(vol, 200, "raw", snap="s1")
    assert raw == "200/vm-200-disk-1.raw"
    assert (await store.volume_size_info(raw))[0] == 1024 * 1024


@pytest.mark.parametrize("fmt", ["raw", "qcow2"])
async def test_export_import(store: DirPlugin, tmp_path: Path, fmt: str) -> None:
    vol = await store.alloc_image(100, fmt, None, 1024)
    with open(store.path(vol), "r+b") as fh:
        fh.seek(4096 if fmt == "raw" else 0)
        data = fh.read(16) if fmt == "qcow2" else b""
        if fmt == "raw":
            fh.write(b"hello pyxis")
    assert store.export_formats(vol) == [f"{fmt}+size"]
    stream = tmp_path / "stream.bin"
    await store.volume_export(vol, f"{fmt}+size", stream)
    assert stream.stat().st_size == 8 + os.stat(store.path(vol)).st_size
    new = await store.volume_import(300, None, f"{fmt}+size", stream)
    assert new == f"300/vm-300-disk-0.{fmt}"
    assert Path(store.path(new)).read_bytes() == Path(store.path(vol)).read_bytes()
    if fmt == "qcow2":
        assert Path(store.path(new)).read_bytes()[:16] == data
    with pytest.raises(ParamError):
        await store.volume_export(vol, "tar+size", stream)


async def test_import_short_stream(store: DirPlugin, tmp_path: Path) -> None:
    stream = tmp_path / "short.stream"
    stream.write_bytes((1024 * 1024).to_bytes(8, "little") + b"x" * 1000)
    with pytest.raises(PyxisError, match="size header"):
        await store.volume_import(402, None, "raw+size", stream)
    assert not (store.base / "images" / "402").exists()
    stream.write_bytes(b"abc")
    with pytest.raises(PyxisError, match="size header"):
        await store.volume_import(402, None, "raw+size", stream)


async def test_export_import_fifo(store: DirPlugin, tmp_path: Path) -> None:
    import asyncio

    vol = await store.alloc_image(100, "raw", None, 1024)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    _, new = await asyncio.gather(
        store.volume_export(vol, "raw+size", fifo), store.volume_import(301, None, "raw+size", fifo)
    )
    assert Path(store.path(new)).read_bytes() == Path(store.path(vol)).read_bytes()


async def test_import_fifo_after_writer_closed(store: DirPlugin, tmp_path: Path) -> None:
    """A small stream written and closed before the importer reads past its header."""
    import asyncio
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    payload = (4096).to_bytes(8, "little") + b"z" * 4096

    def writer() -> None:
        with open(fifo, "wb") as fh:
            fh.write(payload)

    t = threading.Thread(target=writer)
    t.start()
    new = await asyncio.wait_for(store.volume_import(302, None, "raw+size", fifo), 30)
    t.join()
    assert Path(store.path(new)).read_bytes() == b"z" * 4096


async def test_import_refuses_backing_file(store: DirPlugin, tmp_path: Path) -> None:
    evil = tmp_path / "evil.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-f", "qcow2", "-b", "/etc/passwd", "-F", "raw", str(evil)],
        check=True,
        capture_output=True,
    )
    stream = tmp_path / "evil.stream"
    stream.write_bytes(evil.stat().st_size.to_bytes(8, "little") + evil.read_bytes())
    with pytest.raises(PyxisError, match="backing file"):
        await store.volume_import(400, None, "qcow2+size", stream)
    assert not (store.base / "images" / "400").exists()


async def test_other_content_listing(store: DirPlugin) -> None:
    (store.base / "template/iso/debian.iso").write_bytes(b"x" * 10)
    (store.base / "template/iso/notes.txt").write_text("ignored")
    (store.base / "template/cache/alpine.tar.zst").write_bytes(b"x")
    dump = store.base / "dump"
    (dump / "vzdump-qemu-100-2024_01_02-03_04_05.vma.zst").write_bytes(b"x")
    (dump / "vzdump-qemu-100-2024_01_02-03_04_05.vma.zst.notes").write_text("nightly")
    (dump / "vzdump-lxc-101-2024_01_02-03_04_05.tar.gz").write_bytes(b"x")
    (store.base / "snippets/user.yaml").write_text("#cloud-config\n")
    (store.base / "import/disk.vmdk").write_bytes(b"x")
    vols = {v["volid"]: v for v in await store.list_volumes()}
    assert vols["st1:iso/debian.iso"]["format"] == "iso"
    assert vols["st1:iso/debian.iso"]["size"] == 10
    assert "st1:iso/notes.txt" not in vols
    assert vols["st1:vztmpl/alpine.tar.zst"]["format"] == "tzst"
    bk = vols["st1:backup/vzdump-qemu-100-2024_01_02-03_04_05.vma.zst"]
    assert bk["format"] == "vma.zst" and bk["vmid"] == 100 and bk["notes"] == "nightly"
    assert bk["subtype"] == "qemu" and bk["content"] == "backup"
    assert vols["st1:snippets/user.yaml"]["format"] == "snippet"
    assert vols["st1:import/disk.vmdk"]["format"] == "vmdk"
    only100 = await store.list_volumes({"backup", "iso"}, vmid=100)
    assert [v["volid"] for v in only100] == [
        "st1:backup/vzdump-qemu-100-2024_01_02-03_04_05.vma.zst"
    ]
    await store.free_image("backup/vzdump-qemu-100-2024_01_02-03_04_05.vma.zst")
    assert not (dump / "vzdump-qemu-100-2024_01_02-03_04_05.vma.zst.notes").exists()


@pytest.mark.parametrize(
    ("content", "filename", "ok"),
    [
        ("iso", "debian-12.iso", True),
        ("iso", "boot.IMG", True),
        ("vztmpl", "alpine_3.19.tar.xz", True),
        ("import", "appliance.ova", True),
        ("iso", "../../etc/shadow.iso", False),
        ("iso", "a/b.iso", False),
        ("iso", ".hidden.iso", False),
        ("iso", "my disc.iso", False),
        ("iso", "x.tar.gz", False),
        ("vztmpl", "x.iso", False),
        ("import", "evil.exe", False),
        ("backup", "vzdump-qemu-100-x.vma", False),
        ("iso", "a\nb.iso", False),
    ],
)
async def test_upload_path(store: DirPlugin, content: str, filename: str, ok: bool) -> None:
    if ok:
        path = store.upload_path(content, filename)
        assert path.parent == store.subdir(content) and path.name == filename
    else:
        with pytest.raises(ParamError):
            store.upload_path(content, filename)


async def test_upload_needs_enabled_content(tmp_path: Path) -> None:
    plugin = DirPlugin("st3", {"path": str(tmp_path), "content": {"images"}}, Paths.at(tmp_path))
    with pytest.raises(ParamError) as err:
        plugin.upload_path("iso", "a.iso")
    assert "content" in err.value.errors


async def test_paths_stay_inside(store: DirPlugin, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (store.base / "images" / "666").symlink_to(outside)
    with pytest.raises(ParamError):
        store.path("666/vm-666-disk-0.raw")
    with pytest.raises(ParamError):
        store.path("../../etc/shadow")
