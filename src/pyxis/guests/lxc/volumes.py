"""Container volumes: allocate a rootfs or mount point, mount it, unmount it, free it.

A ``STORAGE:SIZE`` request (GiB) becomes, as upstream, a *subvolume* (a plain
directory; a btrfs subvolume on ``btrfs``) when the storage type keeps container file
systems as directories or the size is 0, and otherwise a raw image carrying an ext4
file system (``mkfs.ext4``, root directory owned by the container's root user).  At
start a directory volume is bind-mounted and a raw image loop-mounted, both onto paths
below the container's runtime directory; ``umount_all`` undoes every mount there,
deepest first.  Host paths given to bind mounts are root@pam only (checked by the
service before anything is written).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from pyxis.errors import ParamError, PermissionDenied, PyxisError
from pyxis.guests.orchestrator import Rollback
from pyxis.storage.volid import split_volid
from pyxis.util.run import run

if TYPE_CHECKING:
    from pyxis.services import Services
    from pyxis.tasks.manager import TaskLog

GIB = 1 << 30
SUBVOL_TYPES = frozenset({"btrfs", "zfspool"})
MOUNTINFO = Path("/proc/self/mountinfo")


def human_size(nbytes: int) -> str:
    for unit, factor in (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if nbytes % factor == 0 and nbytes >= factor:
            return f"{nbytes // factor}{unit}"
    return str(nbytes)


def parse_size(text: str) -> int:
    """Bytes of a ``disk-size`` value (``8G``, ``512M``, ``0T``, plain bytes)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    text = text.strip()
    if text and text[-1].upper() in units:
        return int(float(text[:-1]) * units[text[-1].upper()])
    return int(float(text))


def check_storage(svc: Services, authid: str, sid: str, key: str) -> None:
    """The storage exists here, holds container volumes and the caller may allocate."""
    try:
        section = svc.storage.section(sid)
    except Exception as err:
        raise ParamError.one(key, f"storage '{sid}' does not exist") from err
    if "rootdir" not in (section.get("content") or set()):
        raise ParamError.one(
            key, f"storage '{sid}' does not support container directories (content 'rootdir')"
        )
    if not svc.storage.enabled_here(section):
        raise ParamError.one(key, f"storage '{sid}' is not available on this node")
    if not svc.access.check(authid, f"/storage/{sid}", ["Datastore.AllocateSpace"]):
        raise PermissionDenied(f"Permission check failed (/storage/{sid}, Datastore.AllocateSpace)")


async def alloc(
    svc: Services,
    vmid: int,
    sid: str,
    size_gib: float,
    rollback: Rollback,
    tlog: TaskLog | None,
    root_owner: tuple[int, int] = (0, 0),
) -> tuple[str, int]:
    """Allocate (and format) a new container volume; returns ``(volid, size_bytes)``."""
    plugin = await svc.storage.plugin(sid)
    size = int(size_gib * GIB)
    fmts = plugin.formats[0]
    subvol = "subvol" in fmts and (plugin.type in SUBVOL_TYPES or size == 0 or "raw" not in fmts)
    if size == 0 and not subvol:
        raise ParamError.one("rootfs", f"storage '{sid}' cannot hold a size 0 (directory) volume")
    fmt = "subvol" if subvol else "raw"
    volname = await plugin.alloc_image(vmid, fmt, None, size // 1024)
    volid = f"{sid}:{volname}"

    async def undo() -> None:
        await plugin.free_image(volname)

    rollback.add(f"free {volid}", undo)
    path = Path(plugin.path(volname))
    if fmt == "raw":
        owner = f"root_owner={root_owner[0]}:{root_owner[1]}"
        await run(["mkfs.ext4", "-q", "-F", "-E", owner, str(path)], timeout=300)
    elif root_owner != (0, 0):
        os.chown(path, *root_owner)
    if tlog:
        tlog.log(f"allocated {fmt} volume '{volid}' ({human_size(size) if size else 'no limit'})")
    return volid, size


async def volume_path(svc: Services, volid: str) -> tuple[Path, bool]:
    """Host path of a volume and whether it is a directory (else an image file)."""
    try:
        sid, volname = split_volid(volid)
    except ValueError as err:
        raise PyxisError(f"unable to parse volume ID '{volid}'") from err
    plugin = await svc.storage.plugin(sid)
    path = Path(plugin.path(volname))
    if not path.exists():
        raise PyxisError(f"volume '{volid}' does not exist")
    return path, path.is_dir()


def is_mounted(target: Path) -> bool:
    return str(target) in mounted_below(target)


def mounted_below(top: Path) -> list[str]:
    """Mount points at or below ``top`` (from this process' mountinfo)."""
    prefix = str(top).rstrip("/")
    out: list[str] = []
    try:
        lines = MOUNTINFO.read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        fields = line.split()
        if len(fields) > 4:
            mnt = fields[4].replace("\\040", " ")
            if mnt == prefix or mnt.startswith(prefix + "/"):
                out.append(mnt)
    return out


async def mount(source: Path, is_dir: bool, target: Path, readonly: bool = False) -> None:
    """Bind-mount a directory or loop-mount an image file on ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    if is_mounted(target):
        return
    if is_dir:
        await run(["mount", "--bind", str(source), str(target)], timeout=60)
        if readonly:
            await run(["mount", "-o", "remount,bind,ro", str(target)], timeout=60)
    else:
        opts = "loop,ro" if readonly else "loop"
        await run(["mount", "-o", opts, str(source), str(target)], timeout=60)


async def umount_all(top: Path) -> None:
    """Unmount everything at or below ``top``, deepest first (lazily if busy)."""
    for mnt in sorted(mounted_below(top), key=len, reverse=True):
        res = await run(["umount", mnt], check=False, timeout=60)
        if res.returncode != 0:
            await run(["umount", "-l", mnt], check=False, timeout=60)


async def mount_image_tmp(svc: Services, volid: str, target: Path) -> None:
    """Mount a volume somewhere for offline work (template extraction, push/pull)."""
    path, is_dir = await volume_path(svc, volid)
    await mount(path, is_dir, target)


async def free(svc: Services, volid: str, tlog: TaskLog | None) -> None:
    """Free a volume, logging (not raising) when that fails."""
    try:
        sid, volname = split_volid(volid)
        plugin = await svc.storage.plugin(sid)
        await plugin.free_image(volname)
        if tlog:
            tlog.log(f"removed volume '{volid}'")
    except (PyxisError, ValueError) as err:
        msg = f"could not remove volume '{volid}': {getattr(err, 'message', err)}"
        if tlog:
            tlog.warn(msg)


async def resize_fs(path: Path, is_dir: bool, mounted_at: Path | None) -> None:
    """Grow the ext4 file system of a raw image after its file grew."""
    if is_dir:
        return
    if mounted_at is not None and is_mounted(mounted_at):
        # online: resize2fs needs the loop device to see the new size first
        dev = await _loop_device(path)
        if dev:
            await run(["losetup", "-c", dev], timeout=60)
            await run(["resize2fs", dev], timeout=600)
            return
    with contextlib.suppress(PyxisError):
        await run(["e2fsck", "-f", "-y", str(path)], timeout=600, check=False)
    await run(["resize2fs", str(path)], timeout=600)


async def _loop_device(path: Path) -> str | None:
    res = await run(["losetup", "-j", str(path)], check=False, timeout=30)
    for line in res.stdout.splitlines():
        dev = line.split(":", 1)[0].strip()
        if dev:
            return dev
    return None
