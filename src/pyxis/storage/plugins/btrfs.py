"""The ``btrfs`` storage type: the dir layout with disks kept in btrfs subvolumes.

A subclass of ``DirPlugin``, as upstream's BTRFSPlugin is of the dir plugin: same
options (plus ``nocow``), content directories and volnames, but ``raw`` and
``subvol`` images live in subvolumes (layout in ``btrfs_names``).  Snapshots are
read-only sibling subvolumes ``<subvolume>@<snap>``; rollback swaps a writable
snapshot of the snap into place atomically; templates are renamed ``base-...`` and
made read-only; clones are writable snapshots.  With quotas enabled on the file
system a sized ``subvol`` gets a qgroup limit; without, only unsized ones can be
made.  Streams live in ``btrfs_stream``; other content is the dir plugin's.
"""

from __future__ import annotations

import os
import re
from contextlib import suppress
from pathlib import Path
from typing import Any, ClassVar

from pyxis.errors import ParamError, PyxisError
from pyxis.schema.formats import CONFIGID_RE
from pyxis.storage.plugin import Schema
from pyxis.storage.plugins import btrfs_ops as ops
from pyxis.storage.plugins import btrfs_stream
from pyxis.storage.plugins.btrfs_names import (
    RAW_FILE,
    SUBVOL_FORMATS,
    parse_entry,
    snap_dir,
    subvol_dir,
)
from pyxis.storage.plugins.dir import DirPlugin
from pyxis.storage.volid import Volume, free_disk_name, parse_image_name, parse_volname
from pyxis.util.run import run

KIB = 1024
# Upstream's optional options of this type (unlike dir: no content-dirs, no bwlimit).
# fmt: off
OPTIONAL = ("nodes", "shared", "disable", "prune-backups", "max-protected-backups",
            "content", "format", "is_mountpoint", "nocow", "mkdir", "create-base-path",
            "create-subdirs", "preallocation")
# fmt: on


class BtrfsPlugin(DirPlugin):
    """Directory storage on btrfs with subvolume-backed disks, snapshots and clones."""

    type = "btrfs"
    formats = ({"raw", "subvol"}, "raw")
    properties: ClassVar[dict[str, Schema]] = {
        **DirPlugin.properties,
        "nocow": {"type": "boolean", "default": 0, "optional": 1},
    }
    options = {"path": {"fixed": 1}, **{k: {"optional": 1} for k in OPTIONAL}}
    features = {
        "snapshot": {"current": {"raw", "subvol"}, "snap": {"raw", "subvol"}},
        "clone": {"base": {"raw", "subvol"}, "current": {"raw"}, "snap": {"raw"}},
        "template": {"current": {"raw", "subvol"}},
        "copy": {
            "base": {"raw", "subvol"},
            "current": {"raw", "subvol"},
            "snap": {"raw", "subvol"},
        },
        "sparseinit": {"base": {"raw"}, "current": {"raw"}},
    }

    # -- layout ---------------------------------------------------------------------

    def subvolume(self, vol: Volume, snap: str | None = None) -> Path:
        """The subvolume holding an image (or its snapshot ``snap``)."""
        if vol.vtype != "images" or vol.format not in SUBVOL_FORMATS or vol.vmid is None:
            raise self._unsupported(f"'{vol.format}' volumes")
        name = subvol_dir(vol.name, vol.format)
        if snap is not None:
            try:
                name = snap_dir(name, snap)
            except ValueError as err:
                raise ParamError.one("snapname", str(err)) from err
        return self._contained(self.subdir("images") / str(vol.vmid) / name)

    def _vol_path(self, vol: Volume) -> Path:
        if vol.vtype != "images" or vol.format not in SUBVOL_FORMATS:
            return super()._vol_path(vol)
        sub = self.subvolume(vol)
        return sub / RAW_FILE if vol.format == "raw" else sub

    def path(self, volname: str, snap: str | None = None) -> str:
        vol = parse_volname(volname)
        if snap is None or vol.format not in SUBVOL_FORMATS:
            return str(self._vol_path(vol))
        sub = self.subvolume(vol, snap)
        return str(sub / RAW_FILE if vol.format == "raw" else sub)

    def disk(self, volname: str) -> tuple[Volume, Path]:
        """A subvolume-backed image volname -> (Volume, its subvolume)."""
        vol = parse_volname(volname)
        if vol.vtype != "images":
            raise ParamError.one("volume", f"volume '{volname}' is not a disk image")
        return vol, self.subvolume(vol)

    def snapshots(self, sub: Path) -> list[Path]:
        """The snapshot subvolumes of ``sub``, oldest first."""
        found = []
        for name in os.listdir(sub.parent) if sub.parent.is_dir() else []:
            entry = parse_entry(name)
            path = sub.parent / name
            if entry and entry.snap and entry.subvol == sub.name and ops.is_subvolume(path):
                found.append(path)
        # Oldest first by change time (no command needed); a stream of full sends
        # does not depend on the order anyway.
        return sorted(found, key=lambda p: (p.stat().st_ctime_ns, p.name))

    # -- activation -----------------------------------------------------------------

    async def activate(self) -> None:
        # Check before creating the content directories, or after creating the path.
        existed = self.base.is_dir()
        if existed:
            await ops.assert_btrfs(self.base)
        await super().activate()
        if not existed:
            await ops.assert_btrfs(self.base)

    # -- allocation -----------------------------------------------------------------

    def new_disk_name(self, vmid: int, fmt: str, name: str | None) -> str:
        """Check a requested image name, or pick the next free one."""
        if fmt not in self.formats[0]:
            raise ParamError.one("format", f"unsupported format '{fmt}'")
        self._image_dir(vmid).mkdir(parents=True, exist_ok=True)
        if name is None:
            prefix = "subvol" if fmt == "subvol" else "vm"
            return free_disk_name(vmid, self._names(vmid), fmt, prefix)
        if not re.match(rf"^(vm|subvol)-{vmid}-[^@]*$", name):
            raise ParamError.one("filename", f"illegal name '{name}' - should be 'vm-{vmid}-*'")
        name_fmt, _ = parse_image_name(name, "filename")
        if name_fmt != fmt or parse_entry(subvol_dir(name, fmt)) is None:
            raise ParamError.one(
                "filename",
                f"illegal name '{name}' - wrong extension for format ('{name_fmt} != {fmt}')",
            )
        return name

    async def _quota_size(self, size_bytes: int) -> bool:
        """Whether a subvolume of ``size_bytes`` gets a limit; refuse sizes without quotas."""
        if size_bytes <= 0:
            return False
        if await ops.quotas_enabled(self.base):
            return True
        raise PyxisError(
            "btrfs quotas are not enabled on this file system ('btrfs quota enable "
            f"{self.base}'); use an unsized subvolume (size 0) or a raw image"
        )

    async def alloc_image(self, vmid: int, fmt: str | None, name: str | None, size_kib: int) -> str:
        fmt = fmt or self.default_format()
        name = self.new_disk_name(vmid, fmt, name)
        volname = f"{vmid}/{name}"
        _, sub = self.disk(volname)
        if os.path.lexists(sub):
            raise PyxisError(f"disk image '{sub}' already exists")
        limit = fmt == "subvol" and await self._quota_size(size_kib * KIB)
        await ops.subvol_create(sub)
        try:
            if fmt == "raw":
                self._make_raw(sub / RAW_FILE, size_kib * KIB)
            elif limit:
                await ops.qgroup_limit(sub, size_kib * KIB)
        except BaseException:
            with suppress(PyxisError):
                await ops.subvol_delete(sub)
            raise
        return volname

    def _make_raw(self, path: Path, size: int) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            if self._flag("nocow", False):
                ops.set_nocow(path)
            os.ftruncate(fd, size)
            if self.preallocation("raw") in ("falloc", "full") and size:
                os.posix_fallocate(fd, 0, size)
        finally:
            os.close(fd)

    async def free_image(self, volname: str) -> None:
        vol = parse_volname(volname)
        if vol.vtype != "images" or vol.format not in SUBVOL_FORMATS:
            await super().free_image(volname)
            return
        sub = self.subvolume(vol)
        if not ops.is_subvolume(sub):
            return
        await ops.subvol_delete(*self.snapshots(sub), sub)
        # Drop the empty <vmid> directory so removed guests leave no clutter.
        with suppress(OSError):
            sub.parent.rmdir()

    # -- size -----------------------------------------------------------------------

    async def volume_size_info(self, volname: str) -> tuple[int, str, int, str | None]:
        vol = parse_volname(volname)
        if vol.vtype != "images" or vol.format != "subvol":
            return await super().volume_size_info(volname)
        sub = self.subvolume(vol)
        if not ops.is_subvolume(sub):
            raise PyxisError(f"volume '{volname}' does not exist")
        if not await ops.quotas_enabled(sub):
            return 0, "subvol", 0, None
        used, limit = await ops.qgroup_usage(sub)
        return limit or 0, "subvol", used, None

    async def resize(self, volname: str, size_bytes: int) -> None:
        vol, sub = self.disk(volname)
        if vol.format == "raw":
            await super().resize(volname, size_bytes)
            return
        if size_bytes <= 0:
            raise ParamError.one("size", "a subvolume size must be positive")
        await self._quota_size(size_bytes)
        current, _, _, _ = await self.volume_size_info(volname)
        if current and size_bytes < current:
            raise ParamError.one("size", "shrinking disks is not supported")
        await ops.qgroup_limit(sub, size_bytes)

    async def copy_limit(self, src: Path, dst: Path) -> None:
        """Give ``dst`` the quota limit of ``src`` (new subvolumes start unlimited)."""
        if await ops.quotas_enabled(src):
            _, limit = await ops.qgroup_usage(src)
            await ops.qgroup_limit(dst, limit)

    # -- snapshots ------------------------------------------------------------------

    def snap_pair(self, volname: str, snap: str) -> tuple[Path, Path]:
        if not CONFIGID_RE.match(snap):
            raise ParamError.one("snapname", f"invalid snapshot name '{snap}'")
        vol, sub = self.disk(volname)
        return sub, self.subvolume(vol, snap)

    async def snapshot(self, volname: str, snap: str) -> None:
        sub, snap_path = self.snap_pair(volname, snap)
        if os.path.lexists(snap_path):
            raise PyxisError(f"snapshot '{snap}' of '{volname}' already exists")
        await ops.subvol_snapshot(sub, snap_path, readonly=True)

    async def rollback(self, volname: str, snap: str) -> None:
        sub, snap_path = self.snap_pair(volname, snap)
        if not ops.is_subvolume(snap_path):
            raise PyxisError(f"snapshot '{snap}' of '{volname}' does not exist")
        # Make the new state first, then swap: the volume is never missing.
        tmp = sub.with_name(f"{sub.name}.tmp.{os.getpid()}")
        await ops.subvol_snapshot(snap_path, tmp)
        try:
            await self.copy_limit(snap_path, tmp)
            ops.rename2(tmp, sub, ops.RENAME_EXCHANGE)
        finally:
            await ops.subvol_delete(tmp)

    async def delete_snapshot(self, volname: str, snap: str) -> None:
        _, snap_path = self.snap_pair(volname, snap)
        if ops.is_subvolume(snap_path):
            await ops.subvol_delete(snap_path)

    # -- templates and clones -------------------------------------------------------

    async def create_base(self, volname: str) -> str:
        vol, sub = self.disk(volname)
        if vol.is_base:
            raise PyxisError("create_base not possible with base image")
        newname = re.sub(r"^vm-", "base-", vol.name)
        own = f"{vol.vmid}/{newname}"
        newvol = f"{vol.basevmid}/{vol.basename}/{own}" if vol.basename else own
        newsub = self.subvolume(parse_volname(newvol))
        # As upstream, only ``vm-`` names become ``base-``: a subvol template keeps its
        # name and is just made read-only.
        if newsub != sub:
            if os.path.lexists(newsub):
                raise PyxisError(f"file '{newsub}' already exists")
            ops.rename2(sub, newsub, ops.RENAME_NOREPLACE)
        # Nobody may write a template base any more: clones were made from it.
        await ops.set_readonly(newsub, True)
        return newvol

    async def _snapshot_to_new(self, src: Path, vmid: int, fmt: str) -> str:
        """A writable snapshot of ``src`` as the next free disk of ``vmid``."""
        newname = self.new_disk_name(vmid, fmt, None)
        _, dst = self.disk(f"{vmid}/{newname}")
        await ops.subvol_snapshot(src, dst)
        try:
            await self.copy_limit(src, dst)
        except BaseException:
            with suppress(PyxisError):
                await ops.subvol_delete(dst)
            raise
        return f"{vmid}/{newname}"

    async def clone_image(self, volname: str, vmid: int, snap: str | None = None) -> str:
        vol, sub = self.disk(volname)
        src = self.snap_pair(volname, snap)[1] if snap else sub
        if not ops.is_subvolume(src):
            raise PyxisError(f"volume '{volname}' has no subvolume '{src.name}'")
        return await self._snapshot_to_new(src, vmid, str(vol.format))

    async def copy_image(
        self, volname: str, vmid: int, fmt: str | None = None, snap: str | None = None
    ) -> str:
        vol, sub = self.disk(volname)
        srcfmt = str(vol.format)
        if fmt not in (None, srcfmt):
            raise self._unsupported(f"full clone from {srcfmt} to {fmt}")
        src = self.snap_pair(volname, snap)[1] if snap else sub
        if not ops.is_subvolume(src):
            raise PyxisError(f"volume '{volname}' has no subvolume '{src.name}'")
        if srcfmt == "raw":
            size = (src / RAW_FILE).stat().st_size
            newvol = await self.alloc_image(vmid, "raw", None, -(-size // KIB))
            args = [str(src / RAW_FILE), self.path(newvol)]
        else:
            newvol = await self.alloc_image(vmid, "subvol", None, 0)
            args = [f"{src}/.", self.path(newvol)]
        # No shared extents (no reflink): a full clone owns all of its data.
        argv = ["cp", "-a", "--reflink=never", "--sparse=always", "--", *args]
        try:
            if srcfmt == "subvol":
                await self.copy_limit(src, Path(self.path(newvol)))
            await run(argv, timeout=None)
        except BaseException:
            await self.free_image(newvol)
            raise
        return newvol

    # -- listing --------------------------------------------------------------------

    async def _list_images(self, vmid: int | None) -> list[dict[str, Any]]:
        top = self.subdir("images")
        owners = (
            [str(vmid)] if vmid is not None else (sorted(os.listdir(top)) if top.is_dir() else [])
        )
        out: list[dict[str, Any]] = []
        for owner in owners:
            if not owner.isdigit() or not (top / owner).is_dir():
                continue
            for name in sorted(os.listdir(top / owner)):
                entry = parse_entry(name)
                if entry is None or entry.snap is not None:
                    continue
                volname = f"{owner}/{entry.image}"
                try:
                    if entry.format in SUBVOL_FORMATS and not ops.is_subvolume(top / owner / name):
                        continue
                    size, fmt, used, parent = await self.volume_size_info(volname)
                    ctime = int((top / owner / name).stat().st_ctime)
                except (PyxisError, OSError, ValueError, KeyError):
                    continue  # unreadable or vanished images are skipped, as upstream
                item = {
                    "volid": f"{self.storeid}:{volname}",
                    "format": fmt,
                    "size": size,
                    "used": used,
                    "vmid": int(owner),
                    "ctime": ctime,
                }
                if parent:
                    item["parent"] = parent
                out.append(item)
        return out

    # -- streams (btrfs_stream) -----------------------------------------------------

    def export_formats(self, volname: str, with_snapshots: bool = False) -> list[str]:
        found = btrfs_stream.export_formats(volname, with_snapshots)
        return super().export_formats(volname, with_snapshots) if found is None else found

    async def volume_export(
        self,
        volname: str,
        fmt: str,
        dest: Path,
        *,
        snapshot: str | None = None,
        with_snapshots: bool = False,
    ) -> None:
        """As the dir type, plus ``btrfs``/``tar+size`` and an optional ``snapshot``
        to send instead of the current state (see ``btrfs_stream``)."""
        if btrfs_stream.export_formats(volname, with_snapshots) is None:
            await super().volume_export(volname, fmt, dest)
            return
        await btrfs_stream.export(self, volname, fmt, dest, snapshot, with_snapshots)

    async def volume_import(
        self, vmid: int, name: str | None, fmt: str, src: Path, *, snapshot: str | None = None
    ) -> str:
        """``btrfs`` (``snapshot`` names the state the stream carries, default the
        unnamed ``@__export__``), ``raw+size`` or ``tar+size``."""
        if fmt == "btrfs":
            return await btrfs_stream.receive(self, vmid, name, src, snapshot)
        if fmt not in ("raw+size", "tar+size"):
            raise ParamError.one("format", f"import format '{fmt}' not supported")
        return await btrfs_stream.import_sized(self, vmid, name, fmt, src)
