"""Snapshots, templates, clones and disk operations of stopped VMs, through the API.

In process (httpx over ASGI) as root@pam, on two real ``dir`` storages in the test's
temporary directory, with real qemu-img/qemu-io doing the image work.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from funchelp import NODE, err, wait_task

pytestmark = pytest.mark.skipif(
    shutil.which("qemu-img") is None or shutil.which("qemu-io") is None, reason="needs qemu-img"
)

API = "/api2/json"
VMS = f"{API}/nodes/{NODE}/qemu"
DISK = "0.0625"  # GiB: 64 MiB, sparse


@pytest.fixture
async def stores(root_api: httpx.AsyncClient, tmp_path: Path) -> dict[str, Path]:
    out = {}
    for sid in ("st1", "st2"):
        path = tmp_path / sid
        r = await root_api.post(
            f"{API}/storage",
            data={"storage": sid, "type": "dir", "path": str(path), "content": "images"},
        )
        assert r.status_code == 200, r.text
        out[sid] = path
    return out


async def ok_task(api: httpx.AsyncClient, r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    status = await wait_task(api, r.json()["data"], timeout=60)
    if status["exitstatus"] != "OK":
        log = await api.get(f"{API}/nodes/{NODE}/tasks/{r.json()['data']}/log")
        raise AssertionError(f"{status}\n{log.json()['data']}")
    return status


async def failed_task(api: httpx.AsyncClient, r: httpx.Response) -> str:
    assert r.status_code == 200, r.text
    status = await wait_task(api, r.json()["data"], timeout=60)
    assert status["exitstatus"] != "OK"
    return str(status["exitstatus"])


async def make_vm(api: httpx.AsyncClient, vmid: int, **disks: str) -> None:
    data = {"vmid": str(vmid), "name": f"vm{vmid}", "memory": "128", "kvm": "0"}
    data["net0"] = "virtio,bridge=vmbr0"
    data["smbios1"] = "uuid=11111111-2222-3333-4444-555555555555,product=test"
    data["ide2"] = "none,media=cdrom"
    data.update(disks or {"scsi0": f"st1:{DISK},format=qcow2"})
    await ok_task(api, await api.post(VMS, data=data))


async def config(api: httpx.AsyncClient, vmid: int) -> dict[str, Any]:
    r = await api.get(f"{VMS}/{vmid}/config")
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


def volpath(stores: dict[str, Path], value: str) -> Path:
    volid = value.split(",")[0]
    sid, volname = volid.split(":", 1)
    return stores[sid] / "images" / "/".join(volname.split("/")[-2:])


def img_info(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["qemu-img", "info", "-U", "--output=json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    info: dict[str, Any] = json.loads(out.stdout)
    return info


def qemu_io(path: Path, fmt: str, cmd: str) -> bool:
    res = subprocess.run(
        ["qemu-io", "-f", fmt, "-c", cmd, str(path)], capture_output=True, text=True
    )
    return res.returncode == 0 and "failed" not in res.stdout + res.stderr


def snapshots_of(path: Path) -> list[str]:
    return [s["name"] for s in img_info(path).get("snapshots", [])]


# -- template and clones ---------------------------------------------------------------


async def test_template_and_linked_clone(
    root_api: httpx.AsyncClient, stores: dict[str, Path]
) -> None:
    await make_vm(root_api, 100)
    src = await config(root_api, 100)
    await ok_task(root_api, await root_api.post(f"{VMS}/100/template"))
    tmpl = await config(root_api, 100)
    assert tmpl["template"] == 1  # integers come back as JSON numbers, as upstream
    assert tmpl["scsi0"].startswith("st1:100/base-100-disk-0.qcow2,")
    base = volpath(stores, tmpl["scsi0"])
    assert base.exists() and not (stores["st1"] / "images/100/vm-100-disk-0.qcow2").exists()
    # a template cannot be templated again, nor started
    r = await root_api.post(f"{VMS}/100/template")
    assert r.status_code == 409, r.text

    await ok_task(root_api, await root_api.post(f"{VMS}/100/clone", data={"newid": "101"}))
    new = await config(root_api, 101)
    assert new["scsi0"].startswith("st1:100/base-100-disk-0.qcow2/101/vm-101-disk-0.qcow2,")
    assert "template" not in new and "lock" not in new
    assert new["name"] == "Copy-of-VM-vm100"
    assert new["net0"] != src["net0"] and "bridge=vmbr0" in new["net0"]
    assert new["smbios1"] != src["smbios1"] and "product=test" in new["smbios1"]
    assert new["ide2"] == src["ide2"]
    info = img_info(stores["st1"] / "images/101/vm-101-disk-0.qcow2")
    assert info["backing-filename"] == "../100/base-100-disk-0.qcow2"

    feat = await root_api.get(f"{VMS}/100/feature", params={"feature": "clone"})
    assert feat.json()["data"] == {"hasFeature": 1, "nodes": [NODE]}
    # destroying the clone frees its overlay and leaves the template's base alone
    await ok_task(root_api, await root_api.delete(f"{VMS}/101"))
    assert not (stores["st1"] / "images/101").exists()
    assert base.exists()


async def test_full_clone_and_refusals(
    root_api: httpx.AsyncClient, stores: dict[str, Path]
) -> None:
    await make_vm(root_api, 110)
    src = volpath(stores, (await config(root_api, 110))["scsi0"])
    assert qemu_io(src, "qcow2", "write -P 0x5a 0 64k")
    # linked clones need a template; other nodes and pools are not supported
    for data, text in (
        ({"newid": "111", "full": "0"}, "Linked clone feature is not supported"),
        ({"newid": "111", "target": "othernode"}, "Parameter verification failed"),
        ({"newid": "111", "pool": "p1"}, "Parameter verification failed"),
        ({"newid": "110"}, "Parameter verification failed"),
    ):
        r = await root_api.post(f"{VMS}/110/clone", data=data)
        assert r.status_code == 400, r.text
        assert text in err(r)["message"]
    r = await root_api.post(
        f"{VMS}/110/clone",
        data={"newid": "111", "storage": "st2", "format": "raw", "name": "copy"},
    )
    await ok_task(root_api, r)
    new = await config(root_api, 111)
    assert new["name"] == "copy"
    assert new["scsi0"].startswith("st2:111/vm-111-disk-0.raw,")
    assert "size=64M" in new["scsi0"]
    dst = stores["st2"] / "images/111/vm-111-disk-0.raw"
    assert qemu_io(dst, "raw", "read -P 0x5a 0 64k")


# -- resize, move, unlink --------------------------------------------------------------


async def test_resize_offline(root_api: httpx.AsyncClient, stores: dict[str, Path]) -> None:
    await make_vm(root_api, 120)
    cfg = await config(root_api, 120)
    path = volpath(stores, cfg["scsi0"])
    r = await root_api.put(
        f"{VMS}/120/resize", data={"disk": "scsi0", "size": "+64M", "digest": cfg["digest"]}
    )
    await ok_task(root_api, r)
    assert img_info(path)["virtual-size"] == 128 * 1024 * 1024
    assert "size=128M" in (await config(root_api, 120))["scsi0"]
    await ok_task(
        root_api, await root_api.put(f"{VMS}/120/resize", data={"disk": "scsi0", "size": "1G"})
    )
    assert img_info(path)["virtual-size"] == 1 << 30
    assert "size=1G" in (await config(root_api, 120))["scsi0"]
    # shrinking, missing disks, cdroms and stale digests are refused before any task
    for data, code in (
        ({"disk": "scsi0", "size": "512M"}, 400),
        ({"disk": "scsi5", "size": "+1G"}, 400),
        ({"disk": "ide2", "size": "+1G"}, 400),
        ({"disk": "scsi0", "size": "+1G", "digest": cfg["digest"]}, 409),
    ):
        r = await root_api.put(f"{VMS}/120/resize", data=data)
        assert r.status_code == code, (data, r.text)
    assert img_info(path)["virtual-size"] == 1 << 30


async def test_move_disk_offline(root_api: httpx.AsyncClient, stores: dict[str, Path]) -> None:
    await make_vm(root_api, 130)
    cfg = await config(root_api, 130)
    old = volpath(stores, cfg["scsi0"])
    assert qemu_io(old, "qcow2", "write -P 0x33 0 64k")
    r = await root_api.post(
        f"{VMS}/130/move_disk", data={"disk": "scsi0", "storage": "st2", "digest": "0" * 40}
    )
    assert r.status_code == 409, r.text
    r = await root_api.post(f"{VMS}/130/move_disk", data={"disk": "scsi0", "storage": "st1"})
    assert r.status_code == 400, r.text
    r = await root_api.post(
        f"{VMS}/130/move_disk", data={"disk": "scsi0", "storage": "st2", "target-vmid": "131"}
    )
    assert r.status_code == 501, r.text

    r = await root_api.post(
        f"{VMS}/130/move_disk", data={"disk": "scsi0", "storage": "st2", "digest": cfg["digest"]}
    )
    await ok_task(root_api, r)
    cfg = await config(root_api, 130)
    assert cfg["scsi0"].startswith("st2:130/vm-130-disk-0.qcow2,")
    assert cfg["unused0"] == "st1:130/vm-130-disk-0.qcow2"
    assert qemu_io(volpath(stores, cfg["scsi0"]), "qcow2", "read -P 0x33 0 64k")
    # back to st1 as raw, deleting the source this time
    r = await root_api.post(
        f"{VMS}/130/move_disk",
        data={"disk": "scsi0", "storage": "st1", "format": "raw", "delete": "1"},
    )
    await ok_task(root_api, r)
    cfg = await config(root_api, 130)
    assert cfg["scsi0"].startswith("st1:130/vm-130-disk-1.raw,")
    assert not (stores["st2"] / "images/130").exists()
    assert qemu_io(volpath(stores, cfg["scsi0"]), "raw", "read -P 0x33 0 64k")
    # an unused volume can move too
    await ok_task(
        root_api,
        await root_api.post(f"{VMS}/130/move_disk", data={"disk": "unused0", "storage": "st2"}),
    )
    cfg = await config(root_api, 130)
    assert cfg["unused0"] == "st2:130/vm-130-disk-0.qcow2"
    assert cfg["unused1"] == "st1:130/vm-130-disk-0.qcow2"


async def test_unlink(root_api: httpx.AsyncClient, stores: dict[str, Path]) -> None:
    await make_vm(
        root_api,
        140,
        scsi0=f"st1:{DISK},format=qcow2",
        scsi1=f"st1:{DISK},format=qcow2",
        scsi2=f"st1:{DISK},format=raw",
    )
    images = stores["st1"] / "images/140"
    r = await root_api.put(f"{VMS}/140/unlink", data={"idlist": "scsi1"})
    assert r.status_code == 200, r.text
    cfg = await config(root_api, 140)
    assert "scsi1" not in cfg and cfg["unused0"] == "st1:140/vm-140-disk-1.qcow2"
    assert (images / "vm-140-disk-1.qcow2").exists()
    r = await root_api.put(f"{VMS}/140/unlink", data={"idlist": "unused0,scsi2", "force": "1"})
    assert r.status_code == 200, r.text
    cfg = await config(root_api, 140)
    assert not any(k.startswith("unused") for k in cfg) and "scsi2" not in cfg
    assert sorted(p.name for p in images.iterdir()) == ["vm-140-disk-0.qcow2"]
    r = await root_api.put(f"{VMS}/140/unlink", data={"idlist": "name"})
    assert r.status_code == 400, r.text


# -- snapshots -------------------------------------------------------------------------


async def test_snapshot_rollback_delete_stopped(
    root_api: httpx.AsyncClient, stores: dict[str, Path]
) -> None:
    await make_vm(
        root_api, 150, scsi0=f"st1:{DISK},format=qcow2", virtio0=f"st2:{DISK},format=qcow2"
    )
    cfg = await config(root_api, 150)
    disks = [volpath(stores, cfg["scsi0"]), volpath(stores, cfg["virtio0"])]
    for disk in disks:
        assert qemu_io(disk, "qcow2", "write -P 0xab 0 4k")
    r = await root_api.post(
        f"{VMS}/150/snapshot", data={"snapname": "first", "description": "before change"}
    )
    await ok_task(root_api, r)
    for disk in disks:
        assert snapshots_of(disk) == ["first"]
        assert qemu_io(disk, "qcow2", "write -P 0xcd 0 4k")
    await root_api.put(f"{VMS}/150/config", data={"memory": "256"})

    snaps = (await root_api.get(f"{VMS}/150/snapshot")).json()["data"]
    assert [s["name"] for s in snaps] == ["first", "current"]
    assert snaps[0]["description"] == "before change" and "vmstate" not in snaps[0]
    assert snaps[1]["parent"] == "first" and snaps[1]["running"] == 0
    idx = await root_api.get(f"{VMS}/150/snapshot/first")
    assert idx.json()["data"] == [{"cmd": "rollback"}, {"cmd": "config"}]
    scfg = (await root_api.get(f"{VMS}/150/snapshot/first/config")).json()["data"]
    assert scfg["memory"] == "128" and "snaptime" in scfg and "snapstate" not in scfg
    r = await root_api.put(f"{VMS}/150/snapshot/first/config", data={"description": "new"})
    assert r.status_code == 200, r.text
    r = await root_api.post(f"{VMS}/150/snapshot", data={"snapname": "first"})
    assert r.status_code == 400, r.text
    r = await root_api.post(f"{VMS}/150/snapshot", data={"snapname": "current"})
    assert r.status_code == 400, r.text

    await ok_task(root_api, await root_api.post(f"{VMS}/150/snapshot/first/rollback"))
    for disk in disks:
        assert qemu_io(disk, "qcow2", "read -P 0xab 0 4k")
    cfg = await config(root_api, 150)
    assert cfg["memory"] == "128" and cfg["parent"] == "first" and "lock" not in cfg

    await ok_task(root_api, await root_api.post(f"{VMS}/150/snapshot", data={"snapname": "second"}))
    snaps = (await root_api.get(f"{VMS}/150/snapshot")).json()["data"]
    assert {s["name"]: s.get("parent") for s in snaps} == {
        "first": None,
        "second": "first",
        "current": "second",
    }
    await ok_task(root_api, await root_api.delete(f"{VMS}/150/snapshot/first"))
    for disk in disks:
        assert snapshots_of(disk) == ["second"]
    snaps = (await root_api.get(f"{VMS}/150/snapshot")).json()["data"]
    assert {s["name"]: s.get("parent") for s in snaps} == {"second": None, "current": "second"}
    r = await root_api.get(f"{VMS}/150/snapshot/first/config")
    assert r.status_code == 404, r.text
    # destroy removes the disks with their snapshots
    await ok_task(root_api, await root_api.delete(f"{VMS}/150"))
    assert not any(p.exists() for p in disks)


async def test_raw_disk_snapshot_refused(
    root_api: httpx.AsyncClient, stores: dict[str, Path]
) -> None:
    await make_vm(root_api, 160, scsi0=f"st1:{DISK},format=qcow2", scsi1=f"st1:{DISK},format=raw")
    before = await config(root_api, 160)
    r = await root_api.post(f"{VMS}/160/snapshot", data={"snapname": "s1"})
    assert r.status_code == 400, r.text
    assert "snapshot feature is not available" in err(r)["message"]
    assert (await config(root_api, 160))["digest"] == before["digest"]
    assert snapshots_of(volpath(stores, before["scsi0"])) == []
    feat = await root_api.get(f"{VMS}/160/feature", params={"feature": "snapshot"})
    assert feat.json()["data"]["hasFeature"] == 0
    feat = await root_api.get(f"{VMS}/160/feature", params={"feature": "copy"})
    assert feat.json()["data"]["hasFeature"] == 1
