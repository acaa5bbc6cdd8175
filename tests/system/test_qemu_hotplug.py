"""Hotplug through a real ``pyxisd``: NICs and disks added to and removed from a running
test guest show up in (and disappear from) the guest, and the config records them in
its main section, not as pending changes.  The guest is watched through the guest
agent API, which this test exercises on the way (ping, info, exec, exec-status, the
error for an unconfigured agent).
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from daemon import Daemon
from guestvm import GuestVm, cached_iso, temp_bridge
from proxmoxer import ResourceException

ISO = cached_iso()
pytestmark = [
    pytest.mark.system,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs QEMU"),
    pytest.mark.skipif(ISO is None, reason="test guest not built (tests/support/guest_image.py)"),
]
VMID = 4321
BRIDGE = "pxhpbr0"


@pytest.fixture
def vm(module_daemon: Daemon) -> Iterator[GuestVm]:
    assert ISO is not None
    guest = GuestVm(module_daemon, VMID, ISO)
    with temp_bridge(BRIDGE):
        try:
            guest.create(
                net0=f"virtio,bridge={BRIDGE}",
                scsihw="virtio-scsi-single",
                scsi0="local:1",
            )
            guest.start()
            guest.wait_agent()
            yield guest
        finally:
            guest.destroy()


def wait_for(check: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_agent_api(vm: GuestVm) -> None:
    info = vm.api.agent.info.get()
    assert "supported_commands" in info["result"]
    assert vm.api.agent.post(command="ping") == {"result": {}}
    hostname = vm.api.agent("get-host-name").get()["result"]
    assert hostname["host-name"] == "pyxis-guest"
    code, out = vm.run("/bin/sh", "-c", "echo hello; echo oops >&2; exit 3")
    assert code == 3
    assert "hello" in out and "oops" in out
    names = {i["name"] for i in vm.api.agent("network-get-interfaces").get()["result"]}
    assert "lo" in names and "eth0" in names


def test_hotplug_nic_and_disk(vm: GuestVm) -> None:
    nets = vm.sh("ls /sys/class/net").split()
    assert sorted(nets) == ["eth0", "lo"]
    parts = vm.sh("cat /proc/partitions")
    assert "sda" in parts and "sdb" not in parts

    vm.api.config.put(net1=f"virtio,bridge={BRIDGE}", scsi1="local:1")
    cfg = vm.config()
    assert "net1" in cfg and "scsi1" in cfg
    assert cfg["scsi1"].startswith(f"local:{VMID}/vm-{VMID}-disk-")
    assert vm.pending_keys() == set()
    assert Path(f"/sys/class/net/tap{VMID}i1/master").resolve().name == BRIDGE

    wait_for(lambda: "eth1" in vm.sh("ls /sys/class/net"), "eth1 in the guest")
    wait_for(lambda: "sdb" in vm.sh("cat /proc/partitions"), "sdb in the guest")

    vm.api.config.put(delete="net1,scsi1")
    cfg = vm.config()
    assert "net1" not in cfg and "scsi1" not in cfg
    assert any(k.startswith("unused") for k in cfg), cfg
    assert vm.pending_keys() == set()
    assert not Path(f"/sys/class/net/tap{VMID}i1").exists()
    wait_for(lambda: "eth1" not in vm.sh("ls /sys/class/net"), "eth1 gone from the guest")
    wait_for(lambda: "sdb" not in vm.sh("cat /proc/partitions"), "sdb gone from the guest")


def test_not_hotpluggable_stays_pending(vm: GuestVm) -> None:
    vm.api.config.put(memory=384, hotplug="0")
    assert vm.pending_keys() == {"memory", "hotplug"}
    assert str(vm.config()["memory"]) == "256"


def test_agent_not_configured(vm: GuestVm) -> None:
    vm.api.config.put(agent=0)
    with pytest.raises(ResourceException) as exc:
        vm.api.agent.ping.post()
    assert "No QEMU guest agent configured" in str(exc.value)
