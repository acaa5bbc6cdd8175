"""Disk operations on an existing VM: resize, move to another storage, unlink.

Each runs the usual phases (check -> lock -> check prerequisites -> execute) and as a
task where upstream answers with a UPID.  Bytes never pass through Python: a stopped
VM's volumes are grown and copied by the storage plugin or ``qemu-img``; a running
VM's disks by QEMU itself (``block_resize``, ``blockdev-mirror`` then switch-over).
``copy_volume`` is shared with full clones.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pyxis.errors import Conflict, ParamError, PermissionDenied, PyxisError
from pyxis.guests.qemu import blockops, configure, snapconf
from pyxis.guests.qemu.config import VmConfig
from pyxis.guests.qemu.disks import volume_of
from pyxis.guests.qemu.keys import is_cdrom, is_drive_key, parse_drive, print_value
from pyxis.guests.qemu.qmp import Monitor
from pyxis.storage.volid import parse_volname, split_volid
from pyxis.tasks.manager import TaskLog
from pyxis.util.run import run

if TYPE_CHECKING:
    from pyxis.guests.qemu.service import QemuService
    from pyxis.services import Services

SIZE_RE = re.compile(r"^(\+)?(\d+(?:\.\d+)?)([KMGT])?\Z")
UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
MODIFIED = "detected modified configuration - file changed by other user? Try again."


def human_size(nbytes: int) -> str:
    """Bytes as the config's ``size=`` prints them (largest exact unit)."""
    for unit, factor in (("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if nbytes >= factor and nbytes % factor == 0:
            return f"{nbytes // factor}{unit}"
    return str(nbytes)


def new_size(current: int, text: str) -> int:
    """``10G`` (absolute) or ``+1G`` (relative) -> bytes; only growing is allowed."""
    m = SIZE_RE.match(text)
    if not m:
        raise ParamError.one("size", f"invalid size '{text}'")
    size = float(m.group(2)) * UNITS.get(m.group(3) or "", 1)
    total = int(size + current if m.group(1) else size)
    if total < current:
        raise ParamError.one("size", "shrinking disks is not supported")
    return total


def with_file(key: str, value: str, volid: str, size: str | None = None) -> str:
    """Drive ``value`` pointing at ``volid`` (other options kept)."""
    drive = parse_drive(key, value)
    drive["file"] = volid
    if size is not None:
        drive["size"] = size
    return print_value(key, drive)


async def copy_volume(
    svc: Services,
    volid: str,
    storage: str,
    vmid: int,
    fmt: str | None = None,
    snap: str | None = None,
    *,
    bwlimit_kib: int = 0,
) -> str:
    """Full copy of ``volid`` (or of its snapshot ``snap``) as a new volume of ``vmid``
    on ``storage``; the source must not be in use by a running QEMU."""
    sid, volname = split_volid(volid)
    src = await svc.storage.plugin(sid)
    size, srcfmt, _, _ = await src.volume_size_info(volname)
    dst = src if storage == sid else await svc.storage.plugin(storage)
    fmt = fmt or (srcfmt if srcfmt in dst.formats[0] else dst.default_format())
    if storage == sid and not bwlimit_kib:
        return f"{sid}:{await src.copy_image(volname, vmid, fmt, snap)}"
    newname = await dst.alloc_image(vmid, fmt, None, (size + 1023) // 1024)
    argv = ["qemu-img", "convert", "-n", "-f", srcfmt, "-O", fmt]
    if snap:
        argv += ["-l", f"snapshot.name={snap}"]
    if bwlimit_kib:
        argv += ["-r", str(bwlimit_kib * 1024)]
    try:
        await run([*argv, src.path(volname), dst.path(newname)], timeout=None)
    except BaseException:
        await dst.free_image(newname)
        raise
    return f"{storage}:{newname}"


class DiskOps:
    """Resize, move and unlink of the VMs of this node (a view on ``QemuService``)."""

    def __init__(self, qemu: QemuService) -> None:
        self.qemu = qemu
        self.svc = qemu.svc

    def _load_checked(
        self, vmid: int, digest: str | None, skiplock: bool = False
    ) -> tuple[VmConfig, str]:
        cfg, dig = self.qemu.load(vmid)
        if digest and digest != dig:
            raise Conflict(MODIFIED)
        self.qemu.check_not_locked(cfg, skiplock)
        return cfg, dig

    def _disk(self, cfg: VmConfig, key: str) -> tuple[dict[str, Any], str]:
        value = cfg.main.get(key)
        if value is None:
            raise ParamError.one("disk", f"disk '{key}' does not exist")
        if key.startswith("unused"):
            return {"file": value}, value
        drive = parse_drive(key, value)
        if is_cdrom(drive):
            raise ParamError.one("disk", f"you can't use a cdrom ('{key}') here")
        volid = volume_of(key, value)
        if volid is None:
            raise ParamError.one("disk", f"disk '{key}' has no associated volume")
        return drive, volid

    def _space(self, authid: str, sid: str) -> None:
        if not self.svc.access.check(authid, f"/storage/{sid}", ["Datastore.AllocateSpace"]):
            raise PermissionDenied(
                f"Permission check failed (/storage/{sid}, Datastore.AllocateSpace)"
            )

    # -- resize -----------------------------------------------------------------------

    async def resize(
        self, authid: str, vmid: int, key: str, size: str, digest: str | None, skiplock: bool
    ) -> str:
        if not is_drive_key(key):
            raise ParamError.one("disk", f"invalid disk '{key}'")
        cfg, _ = self._load_checked(vmid, digest, skiplock)
        _, volid = self._disk(cfg, key)
        sid, volname = split_volid(volid)
        self._space(authid, sid)
        plugin = await self.svc.storage.plugin(sid)
        new_size((await plugin.volume_size_info(volname))[0], size)

        async def work(tlog: TaskLog) -> None:
            async with self.qemu.guests.lock(vmid):
                await self._resize(vmid, key, size, digest, skiplock, tlog)

        return await self.svc.tasks.start("resize", str(vmid), authid, work)

    async def _resize(
        self, vmid: int, key: str, text: str, digest: str | None, skiplock: bool, tlog: TaskLog
    ) -> None:
        cfg, dig = self._load_checked(vmid, digest, skiplock)
        drive, volid = self._disk(cfg, key)
        sid, volname = split_volid(volid)
        plugin = await self.svc.storage.plugin(sid)
        current, _, _, _ = await plugin.volume_size_info(volname)
        size = new_size(current, text)
        if size == current:
            tlog.log(f"{key}: already {human_size(size)}")
            return
        if self.qemu.pid(vmid) is not None:
            async with Monitor(self.qemu.run_paths(vmid).qmp) as mon:
                await blockops.resize(mon, key, size)
        else:
            await plugin.resize(volname, size)
        drive["size"] = human_size(size)
        cfg, dig = self.qemu.load(vmid)
        cfg.main[key] = print_value(key, drive)
        await self.qemu.save(vmid, cfg, dig)
        tlog.log(f"{key}: '{volid}' resized from {human_size(current)} to {human_size(size)}")

    # -- move -------------------------------------------------------------------------

    async def move(self, authid: str, vmid: int, p: dict[str, Any]) -> str:
        if p.get("target-vmid") is not None or p.get("target-disk"):
            raise PyxisError("reassigning a disk to another VM is not supported yet", status=501)
        key = str(p["disk"])
        storage = p.get("storage")
        if not storage:
            raise ParamError.one("storage", "property is missing and it is not optional")
        cfg, _ = self._load_checked(vmid, p.get("digest"))
        await self._move_checks(authid, vmid, cfg, key, str(storage), p)

        async def work(tlog: TaskLog) -> None:
            async with self.qemu.guests.lock(vmid):
                cfg, _ = self._load_checked(vmid, p.get("digest"))
                await self._move_checks(authid, vmid, cfg, key, str(storage), p)
                await self._move(vmid, key, str(storage), p, tlog)

        return await self.svc.tasks.start("qmmove", str(vmid), authid, work)

    async def _move_checks(
        self, authid: str, vmid: int, cfg: VmConfig, key: str, storage: str, p: dict[str, Any]
    ) -> None:
        _, volid = self._disk(cfg, key)
        sid, volname = split_volid(volid)
        try:
            section = self.svc.storage.section(storage)
        except Exception as err:
            raise ParamError.one("storage", f"storage '{storage}' does not exist") from err
        if "images" not in (section.get("content") or set()):
            raise ParamError.one("storage", f"storage '{storage}' does not support VM images")
        fmt = parse_volname(volname).format
        if sid == storage and (not p.get("format") or p.get("format") == fmt):
            raise ParamError.one("storage", "you can't move to the same storage with same format")
        if p.get("delete") and volid in snapconf.snapshotted_volumes(cfg):
            raise Conflict("you can't move a disk with snapshots and delete the source")
        if parse_volname(volname).is_base or cfg.main.get("template") == "1":
            raise Conflict("you can't move a disk of a template")
        self._space(authid, storage)

    async def _move(
        self, vmid: int, key: str, storage: str, p: dict[str, Any], tlog: TaskLog
    ) -> None:
        cfg, _ = self.qemu.load(vmid)
        _, volid = self._disk(cfg, key)
        fmt = p.get("format")
        bw = int(p.get("bwlimit") or 0)
        running = self.qemu.pid(vmid) is not None and is_drive_key(key)
        if running:
            newvol = await self._move_online(vmid, key, volid, storage, fmt, bw, tlog)
        else:
            tlog.log(f"{key}: copying '{volid}' to storage '{storage}'")
            newvol = await copy_volume(self.svc, volid, storage, vmid, fmt, bwlimit_kib=bw)
        cfg, dig = self.qemu.load(vmid)
        if key.startswith("unused"):
            cfg.main[key] = newvol
        else:
            cfg.main[key] = with_file(key, cfg.main[key], newvol)
        if not p.get("delete"):
            cfg.main[configure.next_unused(cfg.main)] = volid
        await self.qemu.save(vmid, cfg, dig)
        tlog.log(f"{key}: moved '{volid}' to '{newvol}'")
        if p.get("delete"):
            await self.qemu._free_volume(volid, tlog)

    async def _move_online(
        self, vmid: int, key: str, volid: str, storage: str, fmt: str | None, bw: int, tlog: TaskLog
    ) -> str:
        sid, volname = split_volid(volid)
        src = await self.svc.storage.plugin(sid)
        size, srcfmt, _, _ = await src.volume_size_info(volname)
        dst = await self.svc.storage.plugin(storage)
        fmt = fmt or (srcfmt if srcfmt in dst.formats[0] else dst.default_format())
        newname = await dst.alloc_image(vmid, fmt, None, (size + 1023) // 1024)
        tlog.log(f"{key}: mirroring the running disk to '{storage}:{newname}'")
        try:
            async with Monitor(self.qemu.run_paths(vmid).qmp) as mon:
                await blockops.mirror(
                    mon, key, dst.path(newname), fmt, pivot=True, speed=bw * 1024, log=tlog
                )
        except BaseException:
            await dst.free_image(newname)
            raise
        return f"{storage}:{newname}"

    # -- unlink -----------------------------------------------------------------------

    async def unlink(self, authid: str, vmid: int, idlist: str, force: bool) -> None:
        keys = configure.split_list(idlist)
        if not keys:
            raise ParamError.one("idlist", "no disks specified")
        for key in keys:
            if not (is_drive_key(key) or re.fullmatch(r"unused\d+", key)):
                raise ParamError.one("idlist", f"'{key}' is not a disk")
        if self.qemu.pid(vmid) is not None:
            await self.qemu.update(authid, vmid, {"delete": ",".join(keys), "force": int(force)})
            return
        self.qemu.check_key_privs(authid, vmid, keys)
        async with self.qemu.guests.lock(vmid):
            cfg, dig = self._load_checked(vmid, None)
            if cfg.main.get("protection") == "1":
                raise Conflict("can't remove disks of a protected VM")
            before = {k: v for k, v in cfg.main.items() if k.startswith("unused")}
            freed = configure.apply_stopped(cfg, {}, keys)
            if force:
                kept = snapconf.snapshotted_volumes(cfg)
                for ukey in sorted(k for k in cfg.main if k.startswith("unused")):
                    if before.get(ukey) != cfg.main[ukey] and cfg.main[ukey] not in kept:
                        freed.append(cfg.main.pop(ukey))
            await self.qemu.save(vmid, cfg, dig)
        for volid in freed:
            await self.qemu._free_volume(volid, None)
