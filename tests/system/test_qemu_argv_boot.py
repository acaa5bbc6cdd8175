"""Real QEMU runs what ``build_argv`` builds.

``test_boot``: a guest with a qcow2 scsi disk, an ide2 cdrom (the test guest ISO when
``tests/support/guest_image.py`` has built one, else empty), a virtio NIC with
``link_down=1`` (user-mode networking), the guest agent and a ``serial0`` socket is
started daemonized and paused under TCG; QMP sets the link down, ``cont`` runs it,
``query-pci`` shows every device at its table address.  With the ISO, the guest's ready
marker arrives on the serial0 socket and the agent answers ``guest-ping``.

``test_golden_case_starts``: every golden case of the unit tests (with TCG, user
networking and real image files) is accepted by QEMU 7.2 and reaches ``prelaunch``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pyxis.guests.qemu.argv import (
    NodeFacts,
    RunFiles,
    VolumeSource,
    build_argv,
    link_down_nets,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "guests"))

import guest_image
import test_qemu_argv as cases

QEMU = shutil.which("qemu-system-x86_64")
pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(QEMU is None or shutil.which("qemu-img") is None, reason="needs QEMU"),
]
VMID = 100
MAC = "BC:24:11:2C:69:EC"
BOOT_TIMEOUT = 90.0
IO_TIMEOUT = 10.0


class LineSocket:
    """Newline-delimited JSON over a unix socket (QMP and the guest agent)."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(IO_TIMEOUT)
        self.sock.connect(path)
        self.buf = b""

    def send(self, msg: dict[str, Any]) -> None:
        self.sock.sendall(json.dumps(msg).encode() + b"\n")

    def recv(self) -> dict[str, Any]:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("socket closed while waiting for a reply")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        reply: dict[str, Any] = json.loads(line)
        return reply

    def close(self) -> None:
        self.sock.close()


class Qmp(LineSocket):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        assert "QMP" in self.recv()
        assert self.cmd("qmp_capabilities") == {}

    def cmd(self, command: str, /, **args: Any) -> Any:
        self.send({"execute": command, "arguments": args})
        while True:
            reply = self.recv()
            if "event" in reply:
                continue
            assert "return" in reply, reply
            return reply["return"]


class Vm:
    """A daemonized QEMU started from an argv; ``stop()`` quits or kills it."""

    def __init__(self, argv: list[str], run: RunFiles, log: Path) -> None:
        self.run = run
        with log.open("wb") as out:
            proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, timeout=30)
        assert proc.returncode == 0, log.read_text()
        self.pid = int(Path(run.pidfile).read_text())
        self.qmp = Qmp(run.qmp)

    def stop(self) -> None:
        with contextlib.suppress(OSError, AssertionError):
            self.qmp.cmd("quit")
        self.qmp.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and Path(f"/proc/{self.pid}").exists():
            time.sleep(0.05)
        if Path(f"/proc/{self.pid}").exists():
            os.kill(self.pid, signal.SIGKILL)


def cached_iso() -> Path | None:
    """The test guest ISO if ``guest_image.py`` built one (never builds it here)."""
    found = sorted(
        (p.parent / "guest.iso" for p in guest_image.default_cache_root().glob("*/manifest.json")),
        key=lambda p: p.stat().st_mtime if p.exists() else 0,
    )
    return found[-1] if found and found[-1].exists() else None


def facts_for(tmp: Path) -> NodeFacts:
    run = RunFiles.under(tmp / "run", VMID)
    Path(run.pidfile).parent.mkdir(parents=True, exist_ok=True)
    return NodeFacts(
        qemu_binary=str(QEMU), run=run, kvm_usable=False, host_cpus=os.cpu_count() or 1,
        user_net=True, start_paused=True,
    )  # fmt: skip


def pci_devices(qmp: Qmp) -> dict[str, tuple[str, int]]:
    """qdev id -> (parent bus id, slot) over the whole bridge tree."""
    out: dict[str, tuple[str, int]] = {}

    def walk(bus: dict[str, Any], parent: str) -> None:
        for dev in bus["devices"]:
            if dev["qdev_id"]:
                out[dev["qdev_id"]] = (parent, dev["slot"])
            if "devices" in dev.get("pci_bridge", {}):
                walk(dev["pci_bridge"], dev["qdev_id"])

    for root in qmp.cmd("query-pci"):
        walk(root, "pci.0")
    return out


class Console:
    """Collects everything the guest writes to a serial socket."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.data = b""
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while chunk := self.sock.recv(4096):
            self.data += chunk

    def wait(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text.encode() in self.data:
                return
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not on serial0; tail:\n{self.data[-2000:]!r}")

    def close(self) -> None:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(timeout=5)


@pytest.fixture
def vms() -> Iterator[list[Vm]]:
    started: list[Vm] = []
    try:
        yield started
    finally:
        for vm in started:
            vm.stop()


def test_boot(tmp_path: Path, vms: list[Vm]) -> None:
    disk = tmp_path / "vm-100-disk-0.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "64M"], check=True)
    iso = cached_iso()
    conf = {
        "name": "argv-boot", "kvm": "0", "memory": "256", "ostype": "l26", "agent": "1",
        "scsihw": "virtio-scsi-pci", "scsi0": "local:100/vm-100-disk-0.qcow2,discard=on",
        "ide2": "local:iso/guest.iso,media=cdrom" if iso else "none,media=cdrom",
        "net0": f"virtio={MAC},bridge=vmbr0,link_down=1", "serial0": "socket",
        "boot": "order=ide2;scsi0",
    }  # fmt: skip
    volumes = {"local:100/vm-100-disk-0.qcow2": VolumeSource(path=str(disk), format="qcow2")}
    if iso:
        volumes["local:iso/guest.iso"] = VolumeSource(path=str(iso), format="raw", read_only=True)
    facts = facts_for(tmp_path)
    argv = build_argv(VMID, conf, facts, volumes)
    vm = Vm(argv, facts.run, tmp_path / "qemu.log")
    vms.append(vm)
    assert vm.qmp.cmd("query-status")["status"] == "prelaunch"
    console = Console(facts.run.serial(0))
    try:
        check_running_guest(vm, conf, facts, iso is not None, console)
    finally:
        console.close()


def check_running_guest(
    vm: Vm, conf: dict[str, str], facts: NodeFacts, with_iso: bool, console: Console
) -> None:
    for nic in link_down_nets(conf):
        assert vm.qmp.cmd("set_link", name=nic, up=False) == {}
    vm.qmp.cmd("cont")
    assert vm.qmp.cmd("query-status")["status"] == "running"

    expected = {
        "vga": ("pci.0", 0x2), "balloon0": ("pci.0", 0x3), "scsihw0": ("pci.0", 0x5),
        "qga0": ("pci.0", 0x8), "net0": ("pci.0", 0x12),
    }  # fmt: skip
    assert {k: v for k, v in pci_devices(vm.qmp).items() if k in expected} == expected
    nodes = {b["device"] or b["qdev"]: b for b in vm.qmp.cmd("query-block")}
    assert nodes["scsi0"]["inserted"]["node-name"] == "drive-scsi0"
    assert nodes["scsi0"]["inserted"]["image"]["format"] == "qcow2"
    assert ("inserted" in nodes["ide2"]) == with_iso
    if not with_iso:
        return
    console.wait(guest_image.MARKER, BOOT_TIMEOUT)
    agent = LineSocket(facts.run.qga)
    try:
        agent.send({"execute": "guest-sync", "arguments": {"id": 4242}})
        while agent.recv().get("return") != 4242:
            pass
        agent.send({"execute": "guest-ping"})
        assert agent.recv() == {"return": {}}
    finally:
        agent.close()


def make_images(tmp: Path) -> dict[str, VolumeSource]:
    images = tmp / "images"
    images.mkdir()
    for name, fmt in cases.DISKS.values():
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", fmt, str(images / name), "16M"], check=True
        )
    iso = tmp / "debian.iso"
    iso.write_bytes(b"\0" * 1024 * 1024)
    return cases.volumes(str(images), str(iso))


@pytest.mark.parametrize("case", sorted(cases.CASES))
def test_golden_case_starts(case: str, tmp_path: Path, vms: list[Vm]) -> None:
    conf, facts = cases.CASES[case]
    if conf.get("bios") == "ovmf" and not Path("/usr/share/OVMF/OVMF_CODE_4M.fd").exists():
        pytest.skip("needs Debian's ovmf package")
    conf = {**conf, "kvm": "0"}
    base = facts_for(tmp_path)
    facts = replace(facts, qemu_binary=base.qemu_binary, run=base.run, kvm_usable=False,
                    user_net=True, start_paused=True, id_option=False)  # fmt: skip
    volumes = make_images(tmp_path)
    if conf.get("bios") == "ovmf":
        efi = tmp_path / "images" / "vm-100-efi.raw"
        shutil.copy("/usr/share/OVMF/OVMF_VARS_4M.fd", efi)
    vm = Vm(build_argv(VMID, conf, facts, volumes), facts.run, tmp_path / "qemu.log")
    vms.append(vm)
    assert vm.qmp.cmd("query-status")["status"] == "prelaunch"
