"""The storage plugin contract: what every storage type declares and must implement.

A plugin is a small subclass of ``StoragePlugin``.  It *declares* as class data its
``type``, the content types it can hold (supported, default), its image formats
(supported, default), its own option schemas (``properties``, upstream dialect), which
options a section of this type accepts (``options``: optional or fixed, where fixed
means "set at creation, never changed") and its capabilities (``shared``,
``can_snapshot``, ``can_clone``, ``features``).  It then *overrides* only the async
primitives its backend supports; the base versions answer 501 "not supported by
storage type X".  Locking, config writes and task logs are the caller's job: plugins
do backend work only.  ``check_config`` validates and normalises one section (or API
parameters) against these declarations; the registry merges all declarations into
the ``/storage`` API schemas.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import struct
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

from pyxis.errors import ParamError, PyxisError
from pyxis.paths import Paths
from pyxis.schema.scalars import check_scalar
from pyxis.util.run import run, run_fd

Schema = dict[str, Any]

# Options every storage type shares; schemas as in the upstream /storage POST.
BASE_PROPERTIES: dict[str, Schema] = {
    "nodes": {"type": "string", "format": "pve-node-list", "optional": 1},
    "content": {"type": "string", "format": "pve-storage-content-list", "optional": 1},
    "disable": {"type": "boolean", "optional": 1},
    "shared": {"type": "boolean", "optional": 1},
    "prune-backups": {"type": "string", "format": "prune-backups", "optional": 1},
    "max-protected-backups": {
        "type": "integer",
        "minimum": -1,
        "optional": 1,
        "default": "Unlimited for users with Datastore.Allocate privilege, 5 for other users",
    },
    "format": {"type": "string", "enum": ["raw", "qcow2", "subvol", "vmdk"], "optional": 1},
    "preallocation": {
        "type": "string",
        "enum": ["off", "metadata", "falloc", "full"],
        "default": "metadata",
        "optional": 1,
    },
    "content-dirs": {"type": "string", "format": "pve-dir-override-list", "optional": 1},
    "bwlimit": {
        "type": "string",
        "optional": 1,
        "format": {
            k: {"type": "number", "minimum": 0, "optional": 1}
            for k in ("clone", "default", "migration", "move", "restore")
        },
    },
}

# Keys whose values are lists that upstream keeps as sets (``content``, ``nodes``).
SET_KEYS = ("content", "nodes")


# ``<fmt>+size`` streams (migration, replication) start with the data size, 8 bytes LE.
SIZE_HEADER = struct.Struct("<Q")
DD_BYTES_RE = re.compile(r"^(\d+) bytes", re.MULTILINE)


def not_supported(what: str, stype: str) -> PyxisError:
    return PyxisError(f"{what} not supported by storage type '{stype}'", status=501)


class StoragePlugin:
    """Base of all storage types.  See the module docstring for the contract.

    Instances are cheap: one per (storage id, section data) and call; ``scfg`` is the
    normalised section from storage.cfg (``content``/``nodes`` as sets).
    """

    type: ClassVar[str] = ""
    content: ClassVar[tuple[set[str], set[str]]] = (set(), set())
    formats: ClassVar[tuple[set[str], str]] = (set(), "raw")
    properties: ClassVar[dict[str, Schema]] = BASE_PROPERTIES
    options: ClassVar[dict[str, dict[str, int]]] = {}
    shared: ClassVar[bool] = False
    can_snapshot: ClassVar[bool] = False
    can_clone: ClassVar[bool] = False
    # feature -> volume state ("current", "snap", "base") -> formats that have it
    features: ClassVar[dict[str, dict[str, set[str]]]] = {}

    def __init__(self, storeid: str, scfg: dict[str, Any], paths: Paths) -> None:
        self.storeid = storeid
        self.scfg = scfg
        self.paths = paths

    # -- declarations ---------------------------------------------------------------

    @classmethod
    def all_properties(cls) -> dict[str, Schema]:
        """Base properties plus this type's own (a subclass' entry wins)."""
        return {**BASE_PROPERTIES, **cls.properties}

    @classmethod
    def has_feature(
        cls, feature: str, fmt: str | None, *, snap: bool = False, base: bool = False
    ) -> bool:
        state = "snap" if snap else "base" if base else "current"
        return fmt is not None and fmt in cls.features.get(feature, {}).get(state, set())

    @classmethod
    def check_config(
        cls, scfg: dict[str, Any], create: bool, *, skip_required: bool = False
    ) -> dict[str, Any]:
        """Validate one section (without ``type``) and return it normalised.

        ``create`` allows fixed options and (unless ``skip_required``, used when
        reading a file written by others) demands the non-optional ones.
        """
        props = cls.all_properties()
        errors: dict[str, str] = {}
        out: dict[str, Any] = {}
        for key, value in scfg.items():
            if key in ("type", "storage"):
                continue
            opt = cls.options.get(key)
            if opt is None or key not in props:
                errors[key] = f"unexpected property for storage type '{cls.type}'"
                continue
            if opt.get("fixed") and not create:
                errors[key] = f"can't change value of fixed parameter '{key}'"
                continue
            try:
                out[key] = cls._check_value(key, props[key], value)
            except ValueError as err:
                errors[key] = str(err)
        if create and not skip_required:
            for key, opt in cls.options.items():
                if not opt.get("optional") and key not in out and key not in errors:
                    errors[key] = "property is missing and it is not optional"
        if errors:
            raise ParamError(errors)
        return out

    @classmethod
    def _check_value(cls, key: str, schema: Schema, value: Any) -> Any:
        if key in SET_KEYS:
            items = value if isinstance(value, (set, frozenset, list, tuple)) else [value]
            text = ",".join(str(v) for v in items)
            normal = check_scalar(schema, text)
            result = {x for x in normal.split(",") if x}
            if key == "content":
                if "none" in result and len(result) > 1:
                    raise ValueError("unable to combine 'none' with other content types")
                for c in sorted(result - {"none"}):
                    if c not in cls.content[0]:
                        raise ValueError(f"storage does not support content type '{c}'")
            return result
        normal = check_scalar(schema, value, lenient_bool=True)
        if key == "format" and normal not in cls.formats[0]:
            raise ValueError(f"storage does not support format '{normal}'")
        return normal

    # -- helpers for subclasses -----------------------------------------------------

    def enabled_content(self) -> set[str]:
        content = self.scfg.get("content")
        if content is None:
            return set(self.content[1])
        return {c for c in content if c != "none"}

    def default_format(self) -> str:
        return str(self.scfg.get("format") or self.formats[1])

    def preallocation(self, fmt: str) -> str | None:
        """qemu-img ``preallocation`` for a new ``fmt`` image (None: leave it sparse)."""
        mode = self.scfg.get("preallocation")
        if fmt == "qcow2":
            return str(mode or "metadata")
        if fmt == "raw":
            # raw has no metadata to preallocate; upstream maps it to off as well
            mode = "off" if mode in (None, "metadata") else mode
            return None if mode == "off" else str(mode)
        return None

    def _unsupported(self, what: str) -> PyxisError:
        return not_supported(what, self.type)

    # -- primitives (override what the backend supports) ----------------------------

    async def activate(self) -> None:
        """Make the storage usable on this node (mount, create directories)."""

    async def deactivate(self) -> None:
        """Undo ``activate`` where that means something (unmount)."""

    async def status(self) -> dict[str, int]:
        """``{"total", "used", "avail", "active"}`` in bytes (active 0/1)."""
        raise self._unsupported("status")

    async def list_volumes(
        self,
        content: set[str] | None = None,
        vmid: int | None = None,
        *,
        ct_ids: set[int] | frozenset[int] = frozenset(),
    ) -> list[dict[str, Any]]:
        """Volumes as content-listing dicts (volid, format, size, used, vmid, ctime,
        content, parent?).  ``ct_ids`` names container guests so their disks list as
        ``rootdir`` rather than ``images``."""
        raise self._unsupported("listing volumes")

    async def alloc_image(self, vmid: int, fmt: str | None, name: str | None, size_kib: int) -> str:
        """Create a disk of ``size_kib`` KiB; return its volname."""
        raise self._unsupported("allocating images")

    async def free_image(self, volname: str) -> None:
        raise self._unsupported("freeing images")

    def path(self, volname: str, snap: str | None = None) -> str:
        """Local path (file or device) of a volume, for QEMU and tools."""
        raise self._unsupported("path")

    async def volume_size_info(self, volname: str) -> tuple[int, str, int, str | None]:
        """(virtual size, format, used bytes, parent) of a volume."""
        raise self._unsupported("volume size info")

    async def resize(self, volname: str, size_bytes: int) -> None:
        raise self._unsupported("resize")

    async def snapshot(self, volname: str, snap: str) -> None:
        raise self._unsupported("snapshot")

    async def rollback(self, volname: str, snap: str) -> None:
        raise self._unsupported("snapshot rollback")

    async def delete_snapshot(self, volname: str, snap: str) -> None:
        raise self._unsupported("snapshot delete")

    async def clone_image(self, volname: str, vmid: int, snap: str | None = None) -> str:
        """Linked clone of a base volume for ``vmid``; return the new volname."""
        raise self._unsupported("linked clone")

    async def create_base(self, volname: str) -> str:
        """Turn a disk into a read-only template base; return the new volname."""
        raise self._unsupported("template creation")

    async def copy_image(
        self, volname: str, vmid: int, fmt: str | None = None, snap: str | None = None
    ) -> str:
        """Full, independent copy of a volume for ``vmid``; return the new volname."""
        raise self._unsupported("full clone")

    def export_formats(self, volname: str, with_snapshots: bool = False) -> list[str]:
        """Stream formats ``volume_export`` can produce for this volume."""
        return []

    async def volume_export(self, volname: str, fmt: str, dest: Path) -> None:
        """Write ``volname`` as stream format ``fmt`` to ``dest`` (file or FIFO)."""
        raise self._unsupported("volume export")

    async def volume_import(self, vmid: int, name: str | None, fmt: str, src: Path) -> str:
        """Create a volume for ``vmid`` from a ``fmt`` stream at ``src``; return volname."""
        raise self._unsupported("volume import")

    def upload_path(self, content: str, filename: str) -> Path:
        """Where an uploaded file of ``content`` type named ``filename`` goes."""
        raise self._unsupported("upload")


# -- image files -------------------------------------------------------------------


async def qemu_img_info(path: Path, fmt: str) -> dict[str, Any]:
    """``qemu-img info`` of an image file or device.

    The format is always given: letting qemu-img probe would let a guest that wrote
    a qcow2 header into its raw disk point us at any host file.
    """
    res = await run(["qemu-img", "info", "--output=json", "-U", "-f", fmt, str(path)])
    data: dict[str, Any] = json.loads(res.stdout)
    return data


async def check_image_safe(path: Path, fmt: str) -> None:
    """Refuse images (uploads, imports) that reference other files: a backing file
    or a vmdk extent elsewhere would let a guest read the host's files."""
    info = await qemu_img_info(path, fmt)
    if info.get("backing-filename"):
        raise PyxisError(f"image '{path.name}' has a backing file - refusing it")
    extents = info.get("format-specific", {}).get("data", {}).get("extents", [])
    if any(os.path.realpath(e.get("filename", "")) != os.path.realpath(path) for e in extents):
        raise PyxisError(f"image '{path.name}' references external extents - refusing it")


# -- ``+size`` streams for plugins whose volumes have a local path -------------------
# The bytes are moved by dd, never by a Python loop; streams are paths (a file or a
# FIFO) because the command runner does not hand file descriptors to children.


async def send_sized(path: Path, dest: Path, size: int) -> None:
    """Write the size header and then the contents of ``path`` to ``dest``."""
    # Opening a FIFO blocks until the reader comes; keep the event loop free meanwhile.
    fd = await asyncio.to_thread(os.open, dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, SIZE_HEADER.pack(size))
        # Our fd stays open so a FIFO reader never sees EOF between header and data.
        await run(
            [
                "dd",
                f"if={path}",
                f"of={dest}",
                "bs=4M",
                "oflag=append",
                "conv=notrunc",
                "status=none",
            ],
            timeout=None,
        )
    finally:
        os.close(fd)


class SizedStream:
    """Reading side of a ``+size`` stream: ``size`` is known once entered."""

    def __init__(self, src: Path) -> None:
        self.src = src
        self.size = 0
        self._fd = -1

    async def __aenter__(self) -> SizedStream:
        self._fd = await asyncio.to_thread(os.open, self.src, os.O_RDONLY)
        header = b""
        while len(header) < SIZE_HEADER.size:
            chunk = await asyncio.to_thread(os.read, self._fd, SIZE_HEADER.size - len(header))
            if not chunk:
                os.close(self._fd)
                raise PyxisError("import stream ended before its size header")
            header += chunk
        (self.size,) = SIZE_HEADER.unpack(header)
        return self

    async def __aexit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        os.close(self._fd)

    async def copy_to(self, target: Path) -> None:
        """Copy the data (sparse) into ``target`` and give it exactly ``size`` bytes."""
        # dd reads the descriptor we already hold, positioned after the header: reopening
        # a FIFO by path would block forever once a fast writer has finished and closed.
        # LC_ALL=C: the byte count below is parsed from dd's (translated) summary.
        res = await run_fd(
            ["env", "LC_ALL=C", "dd", f"of={target}", "bs=4M", "conv=sparse,notrunc"],
            self._fd,
        )
        # Sparse writes leave the file short of trailing zeros, so count what dd read.
        m = DD_BYTES_RE.search(res.stderr)
        if m is None or int(m.group(1)) != self.size:
            raise PyxisError("import stream length does not match its size header")
        os.truncate(target, self.size)
