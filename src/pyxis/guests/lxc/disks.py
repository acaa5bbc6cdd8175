"""Container mount points on create and update, and resizing and moving volumes.

``check_mountpoints`` runs before anything is written: ``rootfs``/``mpN`` values that
ask for a new volume (``STORAGE:SIZE``) need ``rootdir`` content and
Datastore.AllocateSpace on that storage; existing volumes need the caller's rights on
them; host paths (bind mounts, devices) are root@pam only and must exist.
``realize_mountpoints`` allocates inside the operation and registers undo steps.
``resize`` grows a volume (and its ext4 file system, online if mounted); ``move``
copies a stopped container's volume to another storage.
"""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyxis.errors import Conflict, ParamError, PermissionDenied, PyxisError
from pyxis.guests.lxc import configure, volumes
from pyxis.guests.lxc.keys import parse_mountpoint, parse_value, print_value
from pyxis.guests.orchestrator import Rollback
from pyxis.storage.volid import split_volid
from pyxis.tasks.manager import TaskLog
from pyxis.util.run import run

if TYPE_CHECKING:
    from pyxis.guests.lxc.service import LxcService

GIB = 1 << 30


@dataclass
class MpPlan:
    key: str
    storage: str
    size_gib: float


async def check_mountpoints(
    lxc: LxcService, authid: str, vmid: int, values: dict[str, str]
) -> list[MpPlan]:
    plans: list[MpPlan] = []
    for key, value in values.items():
        if not configure.is_volume_key(key):
            continue
        try:
            mp = parse_mountpoint(key, value)
        except ValueError as err:
            raise ParamError.one(key, str(err)) from err
        if mp.kind == "alloc":
            sid, _, size = mp.volume.rpartition(":")
            if not sid:
                raise ParamError.one(key, "a new volume needs a storage: use STORAGE:SIZE")
            volumes.check_storage(lxc.svc, authid, sid, key)
            plans.append(MpPlan(key, sid, float(size)))
        elif mp.kind in ("bind", "device"):
            if authid != "root@pam":
                raise PermissionDenied(f"{key}: only root@pam may mount host paths")
            if not Path(mp.volume).exists():
                raise ParamError.one(key, f"host path '{mp.volume}' does not exist")
        else:
            try:
                sid, volname = split_volid(mp.volume, key)
            except ValueError as err:
                raise ParamError.one(key, f"unable to parse volume ID '{mp.volume}'") from err
            lxc.svc.storage.check_volume_access(authid, sid, volname, write=True)
    return plans


async def realize_mountpoints(
    lxc: LxcService,
    vmid: int,
    plans: list[MpPlan],
    values: dict[str, str],
    unprivileged: bool,
    tlog: TaskLog | None,
    rollback: Rollback | None = None,
) -> None:
    """Allocate what the plans ask for and rewrite ``values`` with the new volume IDs."""
    from pyxis.guests.lxc.lifecycle import root_owner

    owner = root_owner({"unprivileged": "1" if unprivileged else "0"})
    rb = rollback or Rollback()
    for plan in plans:
        # a new root is filled by template extraction, which shifts its owner itself
        own = (0, 0) if plan.key == "rootfs" else owner
        volid, size = await volumes.alloc(lxc.svc, vmid, plan.storage, plan.size_gib, rb, tlog, own)
        opts = dict(parse_value(plan.key, values[plan.key]))
        opts["volume"] = volid
        opts["size"] = volumes.human_size(size) if size else "0T"
        values[plan.key] = print_value(plan.key, opts)


def _grow(current: int, size: str) -> int:
    text = size.strip()
    plus = text.startswith("+")
    try:
        amount = volumes.parse_size(text.lstrip("+"))
    except ValueError as err:
        raise ParamError.one("size", f"invalid size '{size}'") from err
    new = current + amount if plus else amount
    if new < current:
        raise ParamError.one("size", "shrinking disks is not supported")
    return new


async def resize(lxc: LxcService, vmid: int, disk: str, size: str, digest: str | None) -> None:
    """Grow ``rootfs``/``mpN`` to ``size`` (``+N`` adds); the caller holds the lock."""
    cfg, dig = lxc.load(vmid)
    if digest and digest != dig:
        raise Conflict("detected modified configuration - file changed by other user? Try again.")
    lxc.check_not_locked(cfg)
    if disk not in cfg.main:
        raise ParamError.one("disk", f"no such mount point '{disk}'")
    mp = parse_mountpoint(disk, cfg.main[disk])
    if mp.kind != "volume":
        raise ParamError.one("disk", f"{disk}: only storage volumes can be resized")
    sid, volname = split_volid(mp.volume)
    plugin = await lxc.svc.storage.plugin(sid)
    current = volumes.parse_size(str(mp.opts.get("size") or "0"))
    path, is_dir = await volumes.volume_path(lxc.svc, mp.volume)
    if not is_dir:
        current = max(current, path.stat().st_size)
    new = _grow(current, size)
    if is_dir:
        if plugin.type == "dir":
            raise PyxisError(f"{disk}: a directory volume on storage type 'dir' has no size")
        await plugin.resize(volname, new)
    else:
        await plugin.resize(volname, new)
        target = lxc.ct(vmid).rootfs if disk == "rootfs" else lxc.ct(vmid).staged(disk)
        await volumes.resize_fs(path, is_dir, target)
    opts = dict(mp.opts)
    opts["size"] = volumes.human_size(new)
    cfg.main[disk] = print_value(disk, opts)
    await lxc.save(vmid, cfg, dig)


async def copy_tree(src: Path, dst: Path) -> None:
    """Copy a file system tree keeping owners, modes, links, devices and xattrs."""
    await run(["cp", "-a", "--reflink=auto", f"{src}/.", str(dst)], timeout=None)


async def copy_volume(
    lxc: LxcService,
    vmid: int,
    src_volid: str,
    sid: str,
    unprivileged: bool,
    rollback: Rollback,
    tlog: TaskLog,
    key: str = "rootfs",
) -> tuple[str, int]:
    """A full copy of a container volume onto storage ``sid`` (new volume of ``vmid``)."""
    from pyxis.guests.lxc.lifecycle import root_owner

    src_path, src_dir = await volumes.volume_path(lxc.svc, src_volid)
    size = 0 if src_dir else src_path.stat().st_size
    plugin = await lxc.svc.storage.plugin(sid)
    if src_dir and plugin.type not in volumes.SUBVOL_TYPES:
        size = 0
    owner = root_owner({"unprivileged": "1" if unprivileged else "0"})
    volid, size = await volumes.alloc(lxc.svc, vmid, sid, size / GIB, rollback, tlog, owner)
    work = lxc.ct(vmid).dir / "copy"
    src_mnt, dst_mnt = work / "src", work / "dst"
    try:
        await volumes.mount(src_path, src_dir, src_mnt, readonly=True)
        dst_path, dst_dir = await volumes.volume_path(lxc.svc, volid)
        await volumes.mount(dst_path, dst_dir, dst_mnt)
        tlog.log(f"copying {key} '{src_volid}' to '{volid}'")
        await copy_tree(src_mnt, dst_mnt)
    finally:
        await volumes.umount_all(work)
        await asyncio.to_thread(shutil.rmtree, work, True)
    return volid, size


async def move(lxc: LxcService, vmid: int, key: str, sid: str, delete: bool, tlog: TaskLog) -> None:
    """Move a stopped container's volume to storage ``sid`` (the caller holds the lock)."""
    cfg, dig = lxc.load(vmid)
    lxc.check_not_locked(cfg)
    if await lxc.is_running(vmid):
        raise Conflict("cannot move volumes of a running container")
    if key not in cfg.main:
        raise ParamError.one("volume", f"no such volume '{key}'")
    mp = parse_mountpoint(key, cfg.main[key])
    if mp.kind != "volume":
        raise ParamError.one("volume", f"{key}: not a storage volume")
    lxc.ct(vmid).ensure()
    async with Rollback() as rollback:
        newvol, size = await copy_volume(
            lxc, vmid, mp.volume, sid, cfg.main.get("unprivileged") == "1", rollback, tlog, key
        )
        opts = dict(mp.opts)
        opts["volume"] = newvol
        if size:
            opts["size"] = volumes.human_size(size)
        cfg.main[key] = print_value(key, opts)
        old = mp.volume
        if not delete:
            cfg.main[configure.next_unused(cfg.main)] = old
        await lxc.save(vmid, cfg, dig)
        rollback.clear()
    if delete:
        await volumes.free(lxc.svc, old, tlog)
