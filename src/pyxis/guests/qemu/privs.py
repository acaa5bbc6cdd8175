"""Which privilege a change to each VM config key needs (upstream's grouping).

``VM.Config.Disk`` for drives, ``VM.Config.CDROM`` for a CD-ROM drive's medium,
``VM.Config.Network`` for NICs, ``VM.Config.CPU``/``Memory``/``Cloudinit``/``HWType``
by topic and ``VM.Config.Options`` for the rest.  ``args`` is for root@pam only.
"""

from __future__ import annotations

import re

from pyxis.guests.qemu.keys import is_drive_key

CPU_KEYS = {"cores", "sockets", "cpu", "cpulimit", "cpuunits", "vcpus", "numa", "affinity"}
MEMORY_KEYS = {"memory", "balloon", "shares", "hugepages", "keephugepages"}
CLOUDINIT_KEYS = {
    "ciuser",
    "cipassword",
    "citype",
    "cicustom",
    "sshkeys",
    "nameserver",
    "searchdomain",
    "ciupgrade",
}
HWTYPE_KEYS = {
    "bios",
    "machine",
    "vga",
    "scsihw",
    "tablet",
    "keyboard",
    "audio0",
    "kvm",
    "acpi",
    "localtime",
    "rng0",
    "watchdog",
    "spice_enhancements",
    "tdf",
    "smbios1",
    "vmgenid",
    "arch",
    "freeze",
    "startdate",
    "tpmstate0",
}
ROOT_ONLY = {"args", "lock"}
FAMILY_RE = re.compile(r"^([a-z]+)\d+\Z")


def privilege_for(key: str, *, cdrom: bool = False) -> str:
    """The privilege that setting or deleting ``key`` requires."""
    fam = FAMILY_RE.match(key)
    family = fam.group(1) if fam else key
    if key in ROOT_ONLY:
        return "root"
    if key in CPU_KEYS or family == "numa":
        return "VM.Config.CPU"
    if key in MEMORY_KEYS:
        return "VM.Config.Memory"
    if key in CLOUDINIT_KEYS or family == "ipconfig":
        return "VM.Config.Cloudinit"
    if family == "net":
        return "VM.Config.Network"
    if is_drive_key(key) or family == "unused":
        return "VM.Config.CDROM" if cdrom else "VM.Config.Disk"
    if key in HWTYPE_KEYS or family in ("serial", "parallel", "usb", "hostpci", "virtiofs"):
        return "VM.Config.HWType"
    return "VM.Config.Options"
