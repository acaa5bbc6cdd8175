"""Which running-VM changes are hotplugged (table-driven) and the ``hotplug`` option."""

from __future__ import annotations

import pytest

from pyxis.guests.qemu.config import VmConfig
from pyxis.guests.qemu.hotplug import _candidate, features

FEATURE_CASES = [
    ({}, {"network", "disk", "usb"}),
    ({"hotplug": "0"}, set()),
    ({"hotplug": "1"}, {"network", "disk", "usb"}),
    ({"hotplug": "disk,cpu"}, {"disk", "cpu"}),
]


@pytest.mark.parametrize(("conf", "expected"), FEATURE_CASES)
def test_features(conf: dict[str, str], expected: set[str]) -> None:
    assert features(conf) == expected


BASE = {
    "scsihw": "virtio-scsi-single",
    "scsi0": "local:100/vm-100-disk-0.raw,size=1G",
    "ide2": "local:iso/a.iso,media=cdrom",
    "net0": "virtio=BC:24:11:00:00:01,bridge=vmbr0",
}
CANDIDATES = [
    # (description, extra main keys, key, new value or None for delete, hotplug, expected)
    ("add NIC", {}, "net1", "virtio,bridge=vmbr0", None, True),
    ("remove NIC", {}, "net0", None, None, True),
    ("change NIC needs restart", {}, "net0", "e1000,bridge=vmbr0", None, False),
    ("NIC with network hotplug off", {}, "net1", "virtio,bridge=vmbr0", "disk", False),
    ("add scsi disk", {}, "scsi1", "local:100/vm-100-disk-1.raw", None, True),
    ("remove scsi disk", {}, "scsi0", None, None, True),
    ("add virtio disk", {}, "virtio0", "local:100/vm-100-disk-1.raw", None, True),
    ("scsi on lsi is not hotpluggable", {"scsihw": "lsi"}, "scsi1", "local:1", None, False),
    ("ide disk", {}, "ide0", "local:100/vm-100-disk-1.raw", None, False),
    ("disk with disk hotplug off", {}, "scsi1", "local:1", "network", False),
    ("change cdrom medium", {}, "ide2", "local:iso/b.iso,media=cdrom", "0", True),
    ("eject cdrom", {}, "ide2", "none,media=cdrom", None, True),
    ("resize-like disk change", {}, "scsi0", "local:100/vm-100-disk-0.raw,ssd=1", None, False),
    ("memory", {}, "memory", "1024", None, False),
]


@pytest.mark.parametrize(
    ("desc", "extra", "key", "value", "hotplug", "expected"),
    CANDIDATES,
    ids=[c[0] for c in CANDIDATES],
)
def test_candidate(
    desc: str,
    extra: dict[str, str],
    key: str,
    value: str | None,
    hotplug: str | None,
    expected: bool,
) -> None:
    main = {**BASE, **extra}
    if hotplug is not None:
        main["hotplug"] = hotplug
    cfg = VmConfig(main=main)
    assert _candidate(cfg, key, value, features(main)) is expected
