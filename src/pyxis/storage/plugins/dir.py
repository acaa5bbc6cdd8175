"""The ``dir`` storage type: volumes as files below a local directory.

Layout as upstream: ``images/<vmid>/vm-<vmid>-disk-<n>.<fmt>`` (raw, qcow2, vmdk,
subvol directories), ``private/<vmid>`` (rootdir), ``template/iso``, ``template/cache``
(vztmpl), ``dump`` (backup), ``snippets`` and ``import``, each movable with
``content-dirs``.  Image work is done by ``qemu-img`` (always with an explicit ``-f``
so that a guest-written header can never make it open another file); linked clones
are qcow2 overlays whose backing file is the relative ``../<basevmid>/<basename>``,
so a storage can be moved or mounted elsewhere.  Every path comes from a volname
parsed by ``pyxis.storage.volid`` and is checked to resolve below the storage path.
Network file storages (NFS, CIFS, CephFS) are meant to subclass this and override
activation only.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import stat
from contextlib import suppress
from pathlib import Path
from typing import Any, ClassVar

from pyxis.errors import ParamError, PyxisError
from pyxis.schema.formats import CONFIGID_RE
from pyxis.schema.scalars import TRUE_WORDS
from pyxis.storage.plugin import (
    Schema,
    SizedStream,
    StoragePlugin,
    check_image_safe,
    qemu_img_info,
    send_sized,
)
from pyxis.storage.volid import (
    IMAGE_NAME_RE,
    UPLOAD_EXT,
    Volume,
    backup_facts,
    check_upload_name,
    free_disk_name,
    list_format,
    parse_image_name,
    parse_volname,
)
from pyxis.util.run import run

SUBDIRS = {
    "images": "images",
    "rootdir": "private",
    "iso": "template/iso",
    "vztmpl": "template/cache",
    "backup": "dump",
    "snippets": "snippets",
    "import": "import",
}
PARENT_RE = re.compile(r"^\.\./([1-9][0-9]*)/([^/]+)\Z")


class DirPlugin(StoragePlugin):
    """Directory storage on the local filesystem."""

    type = "dir"
    content = (
        {"images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import", "none"},
        {"images", "rootdir"},
    )
    formats = ({"raw", "qcow2", "vmdk", "subvol"}, "raw")
    properties: ClassVar[dict[str, Schema]] = {
        "path": {"type": "string", "format": "pve-storage-path", "optional": 1},
        "mkdir": {"type": "boolean", "default": "yes", "optional": 1},
        "create-base-path": {"type": "boolean", "default": "yes", "optional": 1},
        "create-subdirs": {"type": "boolean", "default": "yes", "optional": 1},
        "is_mountpoint": {"type": "string", "default": "no", "optional": 1},
    }
    options = {
        "path": {"fixed": 1},
        **{
            k: {"optional": 1}
            for k in (
                "nodes",
                "shared",
                "disable",
                "content",
                "content-dirs",
                "prune-backups",
                "max-protected-backups",
                "format",
                "mkdir",
                "create-base-path",
                "create-subdirs",
                "is_mountpoint",
                "bwlimit",
                "preallocation",
            )
        },
    }
    can_snapshot = True
    can_clone = True
    features = {
        "snapshot": {"current": {"qcow2"}, "snap": {"qcow2"}},
        "clone": {"base": {"qcow2", "raw", "vmdk"}},
        "template": {"current": {"qcow2", "raw", "vmdk", "subvol"}},
        "copy": {
            "base": {"qcow2", "raw", "vmdk"},
            "current": {"qcow2", "raw", "vmdk"},
            "snap": {"qcow2"},
        },
        "sparseinit": {"base": {"qcow2", "raw", "vmdk"}, "current": {"qcow2", "raw", "vmdk"}},
    }

    # -- layout ---------------------------------------------------------------------

    @property
    def base(self) -> Path:
        return Path(str(self.scfg["path"]))

    def _flag(self, key: str, default: bool) -> bool:
        value = self.scfg.get(key)
        return default if value is None else str(value).lower() in TRUE_WORDS

    def subdir(self, vtype: str) -> Path:
        overrides = {}
        for item in str(self.scfg.get("content-dirs") or "").split(","):
            ctype, sep, rel = item.partition("=")
            if sep:
                overrides[ctype.strip()] = rel.strip().strip("/")
        return self.base / overrides.get(vtype, SUBDIRS[vtype])

    def _contained(self, p: Path, param: str = "volume") -> Path:
        """``p`` if it resolves below the storage path (symlinks included)."""
        root = os.path.realpath(self.base)
        if not os.path.realpath(p).startswith(root + os.sep):
            raise ParamError.one(param, "volume path is outside of the storage")
        return p

    def _vol_path(self, vol: Volume) -> Path:
        if vol.vtype == "images":
            p = self.subdir("images") / str(vol.vmid) / vol.name
        elif vol.vtype == "rootdir":
            p = self.subdir("rootdir") / str(vol.vmid)
        else:
            p = self.subdir(vol.vtype) / vol.name
        return self._contained(p)

    def path(self, volname: str, snap: str | None = None) -> str:
        return str(self._vol_path(parse_volname(volname)))

    def _image(self, volname: str) -> tuple[Volume, Path]:
        vol = parse_volname(volname)
        if vol.vtype != "images":
            raise ParamError.one("volume", f"volume '{volname}' is not a disk image")
        return vol, self._vol_path(vol)

    def _image_dir(self, vmid: int) -> Path:
        if vmid < 1:
            raise ParamError.one("vmid", f"invalid VM ID '{vmid}'")
        return self._contained(self.subdir("images") / str(vmid), "vmid")

    # -- activation and status ------------------------------------------------------

    async def activate(self) -> None:
        path = self.base
        mkdir = self._flag("mkdir", True)
        mount = str(self.scfg.get("is_mountpoint") or "no")
        if mount.lower() not in ("no", "0", "off", "false"):
            mp = path if mount.lower() in TRUE_WORDS else Path(mount)
            if not os.path.ismount(mp):
                raise PyxisError(
                    f"unable to activate storage '{self.storeid}' - directory is "
                    f"expected to be a mount point but is not mounted: '{mp}'"
                )
        if not path.is_dir():
            if not self._flag("create-base-path", mkdir):
                raise PyxisError(
                    f"unable to activate storage '{self.storeid}' - directory "
                    f"'{path}' does not exist"
                )
            path.mkdir(parents=True, exist_ok=True)
        if self._flag("create-subdirs", mkdir):
            for vtype in sorted(self.enabled_content()):
                self._contained(self.subdir(vtype), "content-dirs").mkdir(
                    parents=True, exist_ok=True
                )

    async def status(self) -> dict[str, int]:
        try:
            st = await asyncio.to_thread(os.statvfs, self.base)
        except OSError:
            return {"total": 0, "used": 0, "avail": 0, "active": 0}
        total = st.f_blocks * st.f_frsize
        return {
            "total": total,
            "used": total - st.f_bfree * st.f_frsize,
            "avail": st.f_bavail * st.f_frsize,
            "active": 1,
        }

    # -- image primitives -----------------------------------------------------------

    async def volume_size_info(self, volname: str) -> tuple[int, str, int, str | None]:
        vol = parse_volname(volname)
        path = self._vol_path(vol)
        if vol.vtype != "images" or vol.format == "subvol":
            st = path.stat()
            return (
                0 if stat.S_ISDIR(st.st_mode) else st.st_size,
                vol.format or "raw",
                st.st_blocks * 512,
                None,
            )
        fmt = vol.format or "raw"
        info = await qemu_img_info(path, fmt)
        parent = info.get("backing-filename")
        return int(info["virtual-size"]), fmt, int(info.get("actual-size", 0)), parent

    def _names(self, vmid: int) -> set[str]:
        imgdir = self.subdir("images") / str(vmid)
        return set(os.listdir(imgdir)) if imgdir.is_dir() else set()

    def _claim(self, path: Path) -> None:
        """Create ``path`` exclusively: qemu-img would silently overwrite a file."""
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError as err:
            raise PyxisError(f"disk image '{path}' already exists") from err

    async def _new_image(self, vmid: int, fmt: str, name: str | None) -> tuple[str, Path]:
        if fmt not in self.formats[0]:
            raise ParamError.one("format", f"unsupported format '{fmt}'")
        imgdir = self._image_dir(vmid)
        imgdir.mkdir(parents=True, exist_ok=True)
        if name is None:
            prefix = "subvol" if fmt == "subvol" else "vm"
            name = free_disk_name(vmid, self._names(vmid), fmt, prefix)
        elif not re.match(rf"^(vm|subvol)-{vmid}-", name):
            raise ParamError.one("filename", f"illegal name '{name}' - should be 'vm-{vmid}-*'")
        name_fmt, _ = parse_image_name(name, "filename")
        if name_fmt != fmt:
            raise ParamError.one(
                "filename",
                f"illegal name '{name}' - wrong extension for format ('{name_fmt} != {fmt}')",
            )
        path = self._contained(imgdir / name)
        if fmt == "subvol":
            try:
                path.mkdir()
            except FileExistsError as err:
                raise PyxisError(f"disk image '{path}' already exists") from err
        else:
            self._claim(path)
        return f"{vmid}/{name}", path

    def _discard(self, path: Path) -> None:
        with suppress(OSError):
            path.unlink()
        with suppress(OSError):
            path.parent.rmdir()

    async def alloc_image(self, vmid: int, fmt: str | None, name: str | None, size_kib: int) -> str:
        fmt = fmt or self.default_format()
        volname, path = await self._new_image(vmid, fmt, name)
        if fmt == "subvol":
            return volname
        argv = ["qemu-img", "create"]
        if (mode := self.preallocation(fmt)) is not None:
            argv += ["-o", f"preallocation={mode}"]
        try:
            await run([*argv, "-f", fmt, str(path), f"{int(size_kib)}K"])
        except BaseException:
            self._discard(path)
            raise
        return volname

    async def free_image(self, volname: str) -> None:
        vol = parse_volname(volname)
        path = self._vol_path(vol)
        if Path(f"{path}.protected").exists():
            raise PyxisError(f"volume '{self.storeid}:{volname}' is protected")
        if vol.is_base:
            users = [
                v["volid"]
                for v in await self.list_volumes({"images"})
                if v.get("parent") == f"../{vol.vmid}/{vol.name}"
            ]
            if users:
                raise PyxisError(f"base volume '{volname}' is still in use by linked clones")
        if vol.format == "subvol" and path.is_dir():
            await asyncio.to_thread(shutil.rmtree, path)
        elif path.is_file() or path.is_symlink():
            path.unlink()
        else:
            return
        if vol.vtype == "backup":
            with suppress(OSError):
                Path(f"{path}.notes").unlink()
        if vol.vtype == "images":
            # Drop the empty <vmid> directory so removed guests leave no clutter.
            with suppress(OSError):
                path.parent.rmdir()

    async def resize(self, volname: str, size_bytes: int) -> None:
        vol, path = self._image(volname)
        fmt = vol.format or "raw"
        if fmt not in ("raw", "qcow2"):
            raise self._unsupported(f"resizing {fmt} images")
        current, _, _, _ = await self.volume_size_info(volname)
        if size_bytes < current:
            raise ParamError.one("size", "shrinking disks is not supported")
        argv = ["qemu-img", "resize", "-f", fmt]
        if (mode := self.preallocation(fmt)) not in (None, "off"):
            argv.append(f"--preallocation={mode}")
        await run([*argv, str(path), str(int(size_bytes))])

    def _snap_image(self, volname: str, snap: str) -> Path:
        vol, path = self._image(volname)
        if vol.format != "qcow2":
            raise self._unsupported(f"snapshot of {vol.format} images")
        if not CONFIGID_RE.match(snap):
            raise ParamError.one("snapname", f"invalid snapshot name '{snap}'")
        return path

    async def snapshot(self, volname: str, snap: str) -> None:
        await run(["qemu-img", "snapshot", "-c", snap, str(self._snap_image(volname, snap))])

    async def rollback(self, volname: str, snap: str) -> None:
        await run(["qemu-img", "snapshot", "-a", snap, str(self._snap_image(volname, snap))])

    async def delete_snapshot(self, volname: str, snap: str) -> None:
        await run(["qemu-img", "snapshot", "-d", snap, str(self._snap_image(volname, snap))])

    async def create_base(self, volname: str) -> str:
        vol, path = self._image(volname)
        if vol.is_base:
            raise PyxisError("create_base not possible with base image")
        _, _, _, parent = await self.volume_size_info(volname)
        if vol.basename and parent != f"../{vol.basevmid}/{vol.basename}":
            raise PyxisError(f"volname '{volname}' contains wrong information about parent")
        newname = re.sub(r"^vm-", "base-", vol.name)
        own = f"{vol.vmid}/{newname}"
        newvol = f"{vol.basevmid}/{vol.basename}/{own}" if vol.basename else own
        newpath = self._vol_path(parse_volname(newvol))
        if newpath.exists():
            raise PyxisError(f"file '{newpath}' already exists")
        path.rename(newpath)
        # Nobody may write a template base any more: clones depend on it.
        if newpath.is_file():
            newpath.chmod(0o444)
        return newvol

    async def clone_image(self, volname: str, vmid: int, snap: str | None = None) -> str:
        vol, _ = self._image(volname)
        if snap:
            raise self._unsupported("linked clone of a snapshot")
        if vol.format == "subvol":
            raise self._unsupported("linked clone of subvolumes")
        if not vol.is_base:
            raise PyxisError("clone_image only works on base images")
        newname, path = await self._new_image(vmid, "qcow2", None)
        backing = f"../{vol.vmid}/{vol.name}"
        try:
            # A relative backing file resolves against the overlay's own directory.
            await run(
                [
                    "qemu-img",
                    "create",
                    "-b",
                    backing,
                    "-F",
                    vol.format or "raw",
                    "-f",
                    "qcow2",
                    str(path),
                ]
            )
        except BaseException:
            self._discard(path)
            raise
        return f"{vol.vmid}/{vol.name}/{newname}"

    async def copy_image(
        self, volname: str, vmid: int, fmt: str | None = None, snap: str | None = None
    ) -> str:
        vol, src = self._image(volname)
        srcfmt = vol.format or "raw"
        if srcfmt == "subvol":
            raise self._unsupported("full clone of subvolumes")
        fmt = fmt or srcfmt
        argv = ["qemu-img", "convert", "-f", srcfmt, "-O", fmt]
        if snap:
            self._snap_image(volname, snap)
            argv += ["-l", f"snapshot.name={snap}"]
        newname, dst = await self._new_image(vmid, fmt, None)
        try:
            await run([*argv, str(src), str(dst)], timeout=None)
        except BaseException:
            self._discard(dst)
            raise
        return newname

    # -- export / import streams --------------------------------------------------

    def export_formats(self, volname: str, with_snapshots: bool = False) -> list[str]:
        # The file is sent as it is (dd), so the stream format is the file format.
        vol = parse_volname(volname)
        if vol.vtype != "images" or vol.format == "subvol":
            return []
        if with_snapshots and vol.format == "raw":
            return []
        return [f"{vol.format}+size"]

    async def volume_export(self, volname: str, fmt: str, dest: Path) -> None:
        _, path = self._image(volname)
        if fmt not in self.export_formats(volname):
            raise ParamError.one("format", f"export format '{fmt}' not supported for '{volname}'")
        await send_sized(path, dest, path.stat().st_size)

    async def volume_import(self, vmid: int, name: str | None, fmt: str, src: Path) -> str:
        data_fmt = fmt.removesuffix("+size")
        if not fmt.endswith("+size") or data_fmt not in ("raw", "qcow2", "vmdk"):
            raise ParamError.one("format", f"import format '{fmt}' not supported")
        async with SizedStream(src) as stream:
            volname, path = await self._new_image(vmid, data_fmt, name)
            try:
                await stream.copy_to(path)
                if data_fmt != "raw":
                    await check_image_safe(path, data_fmt)
            except BaseException:
                self._discard(path)
                raise
        return volname

    # -- listing and uploads ------------------------------------------------------

    async def list_volumes(
        self,
        content: set[str] | None = None,
        vmid: int | None = None,
        *,
        ct_ids: set[int] | frozenset[int] = frozenset(),
    ) -> list[dict[str, Any]]:
        wanted = self.enabled_content() if content is None else content & self.enabled_content()
        res: list[dict[str, Any]] = []
        if wanted & {"images", "rootdir"}:
            for item in await self._list_images(vmid):
                item["content"] = "rootdir" if item["vmid"] in ct_ids else "images"
                if item["content"] in wanted:
                    res.append(item)
        for vtype in sorted(wanted - {"images", "rootdir"}):
            if vmid is not None and vtype in ("iso", "vztmpl"):
                continue
            res.extend(self._list_files(vtype, vmid))
        return sorted(res, key=lambda i: str(i["volid"]).lower())

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
                if not IMAGE_NAME_RE.match(name):
                    continue
                volname = f"{owner}/{name}"
                try:
                    size, fmt, used, parent = await self.volume_size_info(volname)
                    ctime = int((top / owner / name).stat().st_ctime)
                except (PyxisError, OSError, ValueError, KeyError):
                    continue  # unreadable or vanished images are skipped, as upstream
                m = PARENT_RE.match(parent or "")
                volid = (
                    f"{self.storeid}:{m.group(1)}/{m.group(2)}/{volname}"
                    if m
                    else (f"{self.storeid}:{volname}")
                )
                item = {
                    "volid": volid,
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

    def _list_files(self, vtype: str, vmid: int | None) -> list[dict[str, Any]]:
        top = self.subdir(vtype)
        out: list[dict[str, Any]] = []
        for name in sorted(os.listdir(top)) if top.is_dir() else []:
            try:
                vol = parse_volname(f"{vtype}/{name}")
                st = (top / name).stat()
            except (ParamError, OSError):
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            item: dict[str, Any] = {
                "volid": f"{self.storeid}:{vtype}/{name}",
                "size": st.st_size,
                "ctime": int(st.st_mtime),
                "content": vtype,
                "format": list_format(vol),
            }
            if vtype == "backup":
                item.update(backup_facts(name))
                if vmid is not None and item.get("vmid") != vmid:
                    continue
                notes = top / f"{name}.notes"
                if notes.is_file():
                    item["notes"] = notes.read_text(errors="replace")
                if (top / f"{name}.protected").exists():
                    item["protected"] = 1
            out.append(item)
        return out

    def upload_path(self, content: str, filename: str) -> Path:
        if content in UPLOAD_EXT and content not in self.enabled_content():
            raise ParamError.one(
                "content", f"storage '{self.storeid}' does not support '{content}' content"
            )
        check_upload_name(content, filename)
        return self._contained(self.subdir(content) / filename, "filename")
