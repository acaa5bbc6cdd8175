"""Cloud-init drive through a real ``pyxisd``: ``ide2: local:cloudinit`` allocates the
volume, every start writes a NoCloud ISO (label ``cidata``) into it, and the test guest
sees it as a CD-ROM whose files are the generated data.  ``PUT .../cloudinit`` on the
running VM swaps the medium; ``GET .../cloudinit`` shows pending changes; destroying
the VM removes the volume.  The guest is read through the guest agent API.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from daemon import Daemon
from guestvm import GuestVm, cached_iso, temp_bridge

ISO = cached_iso()
pytestmark = [
    pytest.mark.system,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs QEMU"),
    pytest.mark.skipif(ISO is None, reason="test guest not built (tests/support/guest_image.py)"),
]
VMID = 4322
MAC = "BC:24:11:AA:BB:CC"
BRIDGE = "pxcibr0"
# mount whichever CD-ROM carries the cloud-init data, read-only, at /mnt
MOUNT = (
    "mkdir -p /mnt; umount /mnt 2>/dev/null; "
    "for d in /dev/sr0 /dev/sr1; do "
    "mount -t iso9660 -o ro $d /mnt 2>/dev/null || continue; "
    "[ -f /mnt/meta-data ] && echo $d && exit 0; umount /mnt; done; exit 1"
)


@pytest.fixture
def vm(module_daemon: Daemon) -> Iterator[GuestVm]:
    assert ISO is not None
    guest = GuestVm(module_daemon, VMID, ISO)
    with temp_bridge(BRIDGE):
        try:
            guest.create(
                ide2="local:cloudinit",
                ciuser="alice",
                cipassword="s3cret-pw",
                searchdomain="example.com",
                nameserver="192.0.2.53",
                net0=f"virtio={MAC},bridge={BRIDGE},link_down=1",
                ipconfig0="ip=192.0.2.10/24,gw=192.0.2.1",
            )
            yield guest
        finally:
            guest.destroy()


def test_cloudinit_drive_in_guest(vm: GuestVm, module_daemon: Daemon) -> None:
    cfg = vm.config()
    assert cfg["ide2"] == f"local:{VMID}/vm-{VMID}-cloudinit.qcow2,media=cdrom"
    volume = module_daemon.root / f"var/lib/vz/images/{VMID}/vm-{VMID}-cloudinit.qcow2"
    assert volume.is_file()

    vm.start()
    vm.wait_agent()
    assert vm.api.cloudinit.get() == [
        {"key": "cipassword", "value": "**********"},
        {"key": "ciuser", "value": "alice"},
        {"key": "ipconfig0", "value": "ip=192.0.2.10/24,gw=192.0.2.1"},
        {"key": "nameserver", "value": "192.0.2.53"},
        {"key": "searchdomain", "value": "example.com"},
    ]

    device = vm.sh(MOUNT).strip()
    label = vm.sh(f"dd if={device} bs=1 skip=32808 count=32 2>/dev/null").strip()
    assert label == "cidata"
    assert sorted(vm.sh("ls /mnt").split()) == [
        "meta-data", "network-config", "user-data", "vendor-data",
    ]  # fmt: skip
    user = vm.sh("cat /mnt/user-data")
    assert user == vm.api.cloudinit.dump.get(type="user")
    assert "user: alice\n" in user and "password: $6$" in user
    assert "fqdn: guest4322.example.com\n" in user
    network = vm.sh("cat /mnt/network-config")
    assert f"mac_address: '{MAC.lower()}'" in network
    assert "address: '192.0.2.10'" in network
    meta = vm.sh("cat /mnt/meta-data")
    assert meta == vm.api.cloudinit.dump.get(type="meta")
    assert meta.startswith("instance-id: ")

    # a change is pending until the drive is regenerated
    vm.api.config.put(ciuser="bob")
    assert {"key": "ciuser", "value": "alice", "pending": "bob"} in vm.api.cloudinit.get()
    vm.api.cloudinit.put()
    assert {"key": "ciuser", "value": "bob"} in vm.api.cloudinit.get()
    vm.sh("umount /mnt")
    vm.sh(MOUNT)
    assert "user: bob\n" in vm.sh("cat /mnt/user-data")
    vm.sh("umount /mnt")


def test_destroy_removes_cloudinit_volume(vm: GuestVm, module_daemon: Daemon) -> None:
    volume = module_daemon.root / f"var/lib/vz/images/{VMID}/vm-{VMID}-cloudinit.qcow2"
    assert volume.is_file()
    vm.destroy()
    assert not volume.exists()
