"""Drive values on create and update: allocation, import, validation, unused volumes.

``scsi0: local:32`` asks for a new 32 GiB volume on storage ``local``;
``scsi0: local:0,import-from=local:iso/disk.qcow2`` copies an existing image (volume id,
or an absolute path for root@pam); a CD-ROM value names an ISO volume, ``none`` or
``cdrom``.  ``check_drive`` runs before anything is written so that bad input fails with
a 400 and leaves nothing behind; ``realize_drive`` then allocates inside the task and
registers the undo step with the caller's rollback.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyxis.errors import ParamError, PermissionDenied
from pyxis.guests.orchestrator import Rollback
from pyxis.guests.qemu import cloudinit_drive
from pyxis.guests.qemu.keys import ALLOC_RE, is_cdrom, parse_drive, print_value
from pyxis.storage.volid import split_volid
from pyxis.util.run import run

if TYPE_CHECKING:
    from pyxis.services import Services

GIB = 1024 * 1024 * 1024
ISO_FILE_RE = re.compile(r"^(cdrom|none)\Z")


@dataclass
class DrivePlan:
    """What ``realize_drive`` must do for one drive key."""

    key: str
    drive: dict[str, Any]
    alloc_storage: str | None = None
    alloc_gib: float = 0
    import_from: str | None = None
    cloudinit: bool = False  # a cloud-init drive volume to allocate


def _human_size(nbytes: int) -> str:
    for unit, factor in (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if nbytes % factor == 0 and nbytes >= factor:
            return f"{nbytes // factor}{unit}"
    return str(nbytes)


async def check_drive(svc: Services, authid: str, vmid: int, key: str, value: str) -> DrivePlan:
    """Validate a drive value and the caller's rights on what it names."""
    try:
        drive = parse_drive(key, value)
    except ValueError as err:
        raise ParamError.one(key, str(err)) from err
    file = str(drive.get("file", ""))
    access = svc.access
    if cloudinit_drive.is_alloc_request(file):
        return await cloudinit_drive.check_alloc(svc, authid, vmid, key, drive)
    if is_cdrom(drive):
        if ISO_FILE_RE.match(file):
            return DrivePlan(key, drive)
        sid, volname = _volid(key, file)
        section = _images_storage(svc, key, sid, content="iso")
        del section
        svc.storage.check_volume_access(authid, sid, volname, write=False)
        plugin = await svc.storage.plugin(sid)
        try:
            await plugin.volume_size_info(volname)
        except Exception as err:
            raise ParamError.one(key, f"volume '{file}' does not exist") from err
        return DrivePlan(key, drive)
    m = ALLOC_RE.match(file)
    if m:
        sid = m.group("storage") or ""
        if not sid:
            raise ParamError.one(key, "a new disk needs a storage: use STORAGE:SIZE")
        _images_storage(svc, key, sid)
        if not access.check(authid, f"/storage/{sid}", ["Datastore.AllocateSpace"]):
            raise PermissionDenied(
                f"Permission check failed (/storage/{sid}, Datastore.AllocateSpace)"
            )
        size = float(m.group("size"))
        src = drive.get("import-from")
        if src:
            await _check_import_source(svc, authid, key, str(src))
        elif size <= 0:
            raise ParamError.one(key, "disk size must be greater than 0")
        return DrivePlan(
            key, drive, alloc_storage=sid, alloc_gib=size, import_from=str(src) if src else None
        )
    if drive.get("import-from"):
        raise ParamError.one(key, "'import-from' needs a STORAGE:0 target")
    if file.startswith("/"):
        if authid != "root@pam":
            raise PermissionDenied("only root@pam may use host paths as disks")
        return DrivePlan(key, drive)
    sid, volname = _volid(key, file)
    _images_storage(svc, key, sid)
    svc.storage.check_volume_access(authid, sid, volname, write=True)
    plugin = await svc.storage.plugin(sid)
    try:
        size, _fmt, _used, _parent = await plugin.volume_size_info(volname)
    except Exception as err:
        raise ParamError.one(key, f"volume '{file}' does not exist") from err
    drive.setdefault("size", _human_size(size))
    return DrivePlan(key, drive)


def _volid(key: str, file: str) -> tuple[str, str]:
    try:
        return split_volid(file, key)
    except ParamError:
        raise
    except ValueError as err:
        raise ParamError.one(key, f"unable to parse volume ID '{file}'") from err


def _images_storage(svc: Services, key: str, sid: str, content: str = "images") -> dict[str, Any]:
    try:
        section = svc.storage.section(sid)
    except Exception as err:
        raise ParamError.one(key, f"storage '{sid}' does not exist") from err
    if content not in (section.get("content") or set()):
        raise ParamError.one(key, f"storage '{sid}' does not support content type '{content}'")
    if not svc.storage.enabled_here(section):
        raise ParamError.one(key, f"storage '{sid}' is not available on this node")
    return section


async def _check_import_source(svc: Services, authid: str, key: str, src: str) -> None:
    if src.startswith("/"):
        if authid != "root@pam":
            raise PermissionDenied("only root@pam may import from host paths")
        return
    sid, volname = _volid(key, src)
    svc.storage.check_volume_access(authid, sid, volname, write=False)
    plugin = await svc.storage.plugin(sid)
    try:
        await plugin.volume_size_info(volname)
    except Exception as err:
        raise ParamError.one(key, f"import source '{src}' does not exist") from err


async def source_path(svc: Services, src: str) -> str:
    if src.startswith("/"):
        return src
    sid, volname = split_volid(src)
    plugin = await svc.storage.plugin(sid)
    return plugin.path(volname)


async def realize_drive(
    svc: Services, vmid: int, plan: DrivePlan, rollback: Rollback, log: Any = None
) -> str:
    """Allocate or import the volume a plan asks for; return the config value to store."""
    drive = dict(plan.drive)
    if plan.alloc_storage is None:
        return print_value(plan.key, drive)
    if plan.cloudinit:
        return await cloudinit_drive.realize(svc, vmid, plan, rollback, log)
    sid = plan.alloc_storage
    plugin = await svc.storage.plugin(sid)
    fmt = drive.get("format") or plugin.default_format()
    if plan.import_from:
        src = await source_path(svc, plan.import_from)
        info = await run(["qemu-img", "info", "--output=json", src])
        meta = json.loads(info.stdout)
        size = int(meta["virtual-size"])
        volname = await plugin.alloc_image(vmid, fmt, None, max(1, (size + 1023) // 1024))
        rollback.add(f"free {sid}:{volname}", lambda: plugin.free_image(volname))
        if log:
            log.log(f"importing '{plan.import_from}' to '{sid}:{volname}'")
        await run(
            [
                "qemu-img",
                "convert",
                "-n",
                "-p",
                "-f",
                str(meta.get("format", "raw")),
                "-O",
                fmt,
                src,
                plugin.path(volname),
            ],
            timeout=None,
        )
    else:
        size = int(plan.alloc_gib * GIB)
        volname = await plugin.alloc_image(vmid, fmt, None, size // 1024)
        rollback.add(f"free {sid}:{volname}", lambda: plugin.free_image(volname))
        if log:
            log.log(f"allocated {sid}:{volname} ({_human_size(size)})")
    drive.pop("import-from", None)
    drive.pop("format", None)  # the volume name's suffix carries the format
    drive["file"] = f"{sid}:{volname}"
    drive["size"] = _human_size(size)
    return print_value(plan.key, drive)


def volume_of(key: str, value: str) -> str | None:
    """The storage volume a drive value refers to (None for cdrom/none/paths)."""
    try:
        drive = parse_drive(key, value)
    except ValueError:
        return None
    file = str(drive.get("file", ""))
    if ISO_FILE_RE.match(file) or file.startswith("/") or ":" not in file or is_cdrom(drive):
        return None
    return file
