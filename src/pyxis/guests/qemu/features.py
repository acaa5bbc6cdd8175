"""Which volume features (snapshot, clone, copy, template) a VM's disks have.

A feature is available for a VM when every disk (CD-ROMs aside) lives on a storage
whose plugin declares it for the volume's format and state: ``current`` for a normal
disk, ``base`` for a template's disk, ``snap`` when a snapshot is named.  Disks given
as host paths have no storage and so no features.  ``GET .../feature`` answers with
this, and snapshot, clone and template operations check it before changing anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyxis.errors import PyxisError
from pyxis.guests.qemu.disks import ISO_FILE_RE
from pyxis.guests.qemu.keys import is_cdrom, is_drive_key, parse_drive
from pyxis.storage.volid import parse_volname, split_volid

if TYPE_CHECKING:
    from pyxis.services import Services


def disk_drives(section: dict[str, str]) -> dict[str, str]:
    """``{drive key: file}`` of every disk (CD-ROMs and empty drives excluded)."""
    out: dict[str, str] = {}
    for key in sorted(section):
        if not is_drive_key(key):
            continue
        try:
            drive = parse_drive(key, section[key])
        except ValueError:
            continue
        file = str(drive.get("file", ""))
        if is_cdrom(drive) or not file or ISO_FILE_RE.match(file):
            continue
        out[key] = file
    return out


async def volume_has_feature(
    svc: Services, feature: str, volid: str, snap: str | None = None
) -> bool:
    if volid.startswith("/") or ":" not in volid:
        return False
    try:
        sid, volname = split_volid(volid)
        plugin = await svc.storage.plugin(sid)
        vol = parse_volname(volname)
    except (PyxisError, ValueError):
        return False
    return type(plugin).has_feature(
        feature, vol.format or "raw", snap=snap is not None, base=vol.is_base and not snap
    )


async def missing_feature(
    svc: Services, feature: str, section: dict[str, str], snap: str | None = None
) -> str | None:
    """The first drive key lacking ``feature`` (None when all disks have it)."""
    for key, file in disk_drives(section).items():
        if not await volume_has_feature(svc, feature, file, snap):
            return key
    return None


def feature_nodes(svc: Services, section: dict[str, str]) -> list[str]:
    """Nodes that could run the VM: all nodes when every disk's storage is shared and
    unrestricted, else those the storages' ``nodes`` lists allow (local ones: here)."""
    nodes = {str(n["name"]) for n in svc.cluster_status() if n.get("type") == "node"}
    nodes.add(svc.node)
    for file in disk_drives(section).values():
        if file.startswith("/"):
            nodes &= {svc.node}
            continue
        try:
            scfg = svc.storage.section(split_volid(file)[0])
        except (PyxisError, ValueError):
            return []
        if scfg.get("disable"):
            return []
        if scfg.get("nodes"):
            nodes &= set(scfg["nodes"])
        elif not scfg.get("shared"):
            nodes &= {svc.node}
    return sorted(nodes)
