"""Snapshots, templates, clones and disk moves of real TCG VMs on a real pyxisd.

VMs boot the test guest's disk image, imported as a qcow2 volume by root@pam through
pvesh; everything after that goes through proxmoxer as an Administrator.  Checks are
made where they matter: image contents with qemu-io, image facts with qemu-img, the
guest's liveness on its serial console (the boot marker, or a shell answering).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from daemon import ADMIN, ADMIN_PW, Daemon
from proxmoxer import ProxmoxAPI
from proxmoxer.tools import Tasks

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import guest_image

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs QEMU"),
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

BOOT_TIMEOUT = 120.0
TASK_TIMEOUT = 120.0
ANSWER = "PYXIS-42"
ASK = b"echo PYXIS-$((6*7))\n"


@pytest.fixture(scope="module")
def px(module_daemon: Daemon) -> ProxmoxAPI:
    return ProxmoxAPI(
        module_daemon.host, port=module_daemon.port, backend="https", verify_ssl=False,
        timeout=60, user=ADMIN, password=ADMIN_PW,
    )  # fmt: skip


@pytest.fixture(scope="module")
def node(module_daemon: Daemon) -> str:
    return module_daemon.node


@pytest.fixture(scope="module")
def disk_image() -> str:
    return str(guest_image.build().disk)


@pytest.fixture(scope="module")
def st2(px: ProxmoxAPI, module_daemon: Daemon) -> Iterator[Path]:
    path = module_daemon.root / "srv/st2"
    px.storage.post(storage="st2", type="dir", path=str(path), content="images", mkdir=1)
    yield path


def wait_task(px: ProxmoxAPI, upid: str, timeout: float = TASK_TIMEOUT) -> dict[str, Any]:
    node = Tasks.decode_upid(upid)["node"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: dict[str, Any] = px.nodes(node).tasks(upid).status.get()
        if status["status"] == "stopped":
            return status
        time.sleep(0.1)
    raise AssertionError(f"task {upid} still running after {timeout}s")


def task_ok(px: ProxmoxAPI, upid: str, timeout: float = TASK_TIMEOUT) -> str:
    status = wait_task(px, upid, timeout)
    node = Tasks.decode_upid(upid)["node"]
    log = "\n".join(line["t"] for line in px.nodes(node).tasks(upid).log.get(limit=0))
    assert status["exitstatus"] == "OK", log
    return log


def create_vm(d: Daemon, px: ProxmoxAPI, vmid: int, image: str, *extra: str) -> None:
    """Create a VM whose scsi0 is the guest image imported as qcow2 (root only: pvesh)."""
    out = d.ok(
        "pvesh", "create", f"/nodes/{d.node}/qemu", "--vmid", str(vmid),
        "--scsi0", f"local:0,import-from={image},format=qcow2", "--scsihw", "virtio-scsi-pci",
        "--boot", "order=scsi0", "--serial0", "socket", "--kvm", "0", "--memory", "256",
        "--output-format", "json", *extra,
    )  # fmt: skip
    task_ok(px, json.loads(out))


def volumes(px: ProxmoxAPI, node: str, vmid: int, storages: tuple[str, ...]) -> set[str]:
    out = set()
    for sid in storages:
        for vol in px.nodes(node).storage(sid).content.get():
            if f"-{vmid}-disk-" in vol["volid"]:
                out.add(vol["volid"])
    return out


def destroy(px: ProxmoxAPI, node: str, vmid: int) -> None:
    if not any(int(v["vmid"]) == vmid for v in px.nodes(node).qemu.get()):
        return
    vm = px.nodes(node).qemu(vmid)
    if vm.status.current.get()["status"] == "running":
        wait_task(px, vm.status.stop.post())
    wait_task(px, vm.delete())


def image_path(d: Daemon, volid: str, st2: Path | None = None) -> Path:
    sid, volname = volid.split(",")[0].split(":", 1)
    base = d.root / "var/lib/vz" if sid == "local" else st2
    assert base is not None
    return base / "images" / "/".join(volname.split("/")[-2:])


def img_info(path: Path) -> dict[str, Any]:
    res = subprocess.run(
        ["qemu-img", "info", "-U", "--output=json", str(path)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    info: dict[str, Any] = json.loads(res.stdout)
    return info


def qemu_io(path: Path, cmd: str) -> bool:
    res = subprocess.run(["qemu-io", "-f", "qcow2", "-c", cmd, str(path)], capture_output=True)
    return res.returncode == 0 and b"fail" not in res.stdout + res.stderr


class Serial:
    """A client of a VM's serial console socket: read until a marker, send lines."""

    def __init__(self, d: Daemon, vmid: int) -> None:
        path = d.root / f"run/pyxis/qemu-server/{vmid}.serial0"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(path))
        self.text = ""

    def wait_for(self, marker: str, timeout: float = BOOT_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.text:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{marker!r} not on the console; tail:\n{self.text[-2000:]}")
            self.sock.settimeout(min(left, 2.0))
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                raise AssertionError(f"console closed; tail:\n{self.text[-2000:]}")
            self.text += chunk.decode(errors="replace")

    def ask_alive(self, timeout: float = 60.0) -> None:
        """The guest's shell answers (repeats the question: the first may be lost)."""
        deadline = time.monotonic() + timeout
        while True:
            self.sock.sendall(ASK)
            try:
                self.wait_for(ANSWER, timeout=min(10.0, max(1.0, deadline - time.monotonic())))
                return
            except AssertionError:
                if time.monotonic() > deadline:
                    raise

    def close(self) -> None:
        self.sock.close()


def running(px: ProxmoxAPI, node: str, vmid: int) -> bool:
    cur = px.nodes(node).qemu(vmid).status.current.get()
    return bool(cur["status"] == "running" and cur["qmpstatus"] == "running")


# -- tests ----------------------------------------------------------------------------


def test_offline_snapshot_rollback_restores_disk(
    px: ProxmoxAPI, node: str, module_daemon: Daemon, disk_image: str
) -> None:
    vmid = 300
    try:
        create_vm(module_daemon, px, vmid, disk_image, "--scsi1", "local:0.0625,format=qcow2")
        vm = px.nodes(node).qemu(vmid)
        data = image_path(module_daemon, vm.config.get()["scsi1"])
        assert qemu_io(data, "write -P 0xab 0 4k")
        task_ok(px, vm.snapshot.post(snapname="before", description="marker ab"))
        assert [s["name"] for s in img_info(data)["snapshots"]] == ["before"]
        assert qemu_io(data, "write -P 0xcd 0 4k")
        assert not qemu_io(data, "read -P 0xab 0 4k")
        task_ok(px, vm.snapshot("before").rollback.post())
        assert qemu_io(data, "read -P 0xab 0 4k")
        task_ok(px, vm.snapshot("before").delete())
        assert "snapshots" not in img_info(data)
        assert [s["name"] for s in vm.snapshot.get()] == ["current"]
        task_ok(px, vm.delete())
        assert volumes(px, node, vmid, ("local",)) == set()
    finally:
        destroy(px, node, vmid)


def test_running_snapshots_with_and_without_ram(
    px: ProxmoxAPI, node: str, module_daemon: Daemon, disk_image: str, st2: Path
) -> None:
    vmid, copy = 301, 302
    try:
        create_vm(module_daemon, px, vmid, disk_image)
        vm = px.nodes(node).qemu(vmid)
        disk = image_path(module_daemon, vm.config.get()["scsi0"])
        task_ok(px, vm.status.start.post())
        console = Serial(module_daemon, vmid)
        console.wait_for(guest_image.MARKER)
        console.ask_alive()
        console.close()

        task_ok(px, vm.snapshot.post(snapname="disks", vmstate=0))
        task_ok(px, vm.snapshot.post(snapname="withram", vmstate=1), timeout=300)
        snaps = {s["name"]: s for s in vm.snapshot.get()}
        assert "vmstate" not in snaps["disks"] and snaps["withram"]["vmstate"] == 1
        assert snaps["current"]["parent"] == "withram" and snaps["current"]["running"] == 1
        assert snaps["withram"]["parent"] == "disks"
        on_disk = {s["name"]: s for s in img_info(disk)["snapshots"]}
        assert on_disk["disks"]["vm-state-size"] == 0
        assert on_disk["withram"]["vm-state-size"] > 0
        assert running(px, node, vmid)

        # online resize: QEMU grows the image it has open
        size = img_info(disk)["virtual-size"]
        task_ok(px, vm.resize.put(disk="scsi0", size="+32M"))
        assert img_info(disk)["virtual-size"] == size + 32 * 1024 * 1024
        assert "size=65M" in vm.config.get()["scsi0"]

        # back to the RAM state: the guest runs on where it was, no reboot
        task_ok(px, vm.snapshot("withram").rollback.post(), timeout=300)
        assert running(px, node, vmid)
        console = Serial(module_daemon, vmid)
        console.ask_alive()
        assert guest_image.MARKER not in console.text
        console.close()

        # back to the disk-only snapshot with start=1: a fresh boot
        task_ok(px, vm.snapshot("disks").rollback.post(start=1))
        console = Serial(module_daemon, vmid)
        console.wait_for(guest_image.MARKER)
        console.close()
        assert vm.config.get()["parent"] == "disks"

        # delete while running: QEMU drops the snapshots from the open image
        task_ok(px, vm.snapshot("withram").delete())
        task_ok(px, vm.snapshot("disks").delete())
        assert "snapshots" not in img_info(disk)
        assert [s["name"] for s in vm.snapshot.get()] == ["current"]
        assert running(px, node, vmid)

        # full clone of the running VM: QEMU mirrors the disk, the source runs on
        task_ok(px, vm.clone.post(newid=copy, full=1, storage="st2", format="raw"))
        conf = px.nodes(node).qemu(copy).config.get()
        assert conf["scsi0"].startswith(f"st2:{copy}/vm-{copy}-disk-0.raw")
        assert conf["serial0"] == "socket" and "lock" not in conf
        copied = image_path(module_daemon, conf["scsi0"], st2)
        assert img_info(copied)["virtual-size"] == img_info(disk)["virtual-size"]
        assert running(px, node, vmid)
        task_ok(px, px.nodes(node).qemu(copy).delete())

        task_ok(px, vm.status.stop.post())
        task_ok(px, vm.delete())
        assert volumes(px, node, vmid, ("local",)) == set()
        assert volumes(px, node, copy, ("local", "st2")) == set()
    finally:
        destroy(px, node, copy)
        destroy(px, node, vmid)


def test_linked_clone_boots_and_moves_online(
    px: ProxmoxAPI, node: str, module_daemon: Daemon, disk_image: str, st2: Path
) -> None:
    tmpl, clone = 310, 311
    try:
        create_vm(module_daemon, px, tmpl, disk_image, "--name", "golden")
        task_ok(px, px.nodes(node).qemu(tmpl).template.post())
        assert str(px.nodes(node).qemu(tmpl).config.get()["template"]) == "1"
        task_ok(px, px.nodes(node).qemu(tmpl).clone.post(newid=clone, name="linked"))
        vm = px.nodes(node).qemu(clone)
        conf = vm.config.get()
        assert conf["scsi0"].startswith(f"local:{tmpl}/base-{tmpl}-disk-0.qcow2/{clone}/")
        overlay = image_path(module_daemon, conf["scsi0"])
        assert img_info(overlay)["backing-filename"] == f"../{tmpl}/base-{tmpl}-disk-0.qcow2"

        # offline resize of the overlay
        task_ok(px, vm.resize.put(disk="scsi0", size="+16M"))
        assert img_info(overlay)["virtual-size"] == (33 + 16) * 1024 * 1024

        task_ok(px, vm.status.start.post())
        console = Serial(module_daemon, clone)
        console.wait_for(guest_image.MARKER)

        # online move to another storage: QEMU mirrors, switches over, the VM runs on
        log = task_ok(px, vm.move_disk.post(disk="scsi0", storage="st2", delete=1), timeout=300)
        assert "mirror ready" in log
        conf = vm.config.get()
        assert conf["scsi0"].startswith(f"st2:{clone}/vm-{clone}-disk-0.qcow2")
        assert not any(k.startswith("unused") for k in conf)
        assert not overlay.exists()
        moved = image_path(module_daemon, conf["scsi0"], st2)
        assert "backing-filename" not in img_info(moved)
        assert running(px, node, clone)
        console.ask_alive()
        console.close()

        task_ok(px, vm.status.stop.post())
        task_ok(px, vm.delete())
        task_ok(px, px.nodes(node).qemu(tmpl).delete())
        for vmid in (tmpl, clone):
            assert volumes(px, node, vmid, ("local", "st2")) == set()
    finally:
        destroy(px, node, clone)
        destroy(px, node, tmpl)
