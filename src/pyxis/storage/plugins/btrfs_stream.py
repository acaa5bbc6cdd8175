"""Export and import streams of the ``btrfs`` storage type.

``btrfs``: one ``btrfs send -e`` stream of read-only snapshots ``<disk>@<snap>`` (the
other snapshots first when asked for, the state to become the volume last); without
a named snapshot that state is a temporary read-only snapshot ``@__export__``.  The
receiver unpacks into ``images/<vmid>/recv.<vmid>.tmp``, checks that it holds
snapshots of exactly one disk including the expected state, makes that writable and
moves it into place under the new volname (re-creating the named snapshot, moving the
others along as read-only snapshots) and always removes whatever is left.
``raw+size`` sends ``disk.raw`` with the common size header; ``tar+size`` a tar of a
container subvolume (size = its quota limit, 0 without quotas), as upstream.  Bytes
only ever move between processes and files or FIFOs.
"""

from __future__ import annotations

import asyncio
import os
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from pyxis.errors import ParamError, PyxisError
from pyxis.storage.plugin import DD_BYTES_RE, send_sized
from pyxis.storage.plugins import btrfs_ops as ops
from pyxis.storage.plugins.btrfs_names import (
    EXPORT_SNAP,
    RAW_FILE,
    SUBVOL_FORMATS,
    received_plan,
    snap_dir,
)
from pyxis.storage.volid import Volume, parse_volname

if TYPE_CHECKING:
    from pyxis.storage.plugins.btrfs import BtrfsPlugin


def export_formats(volname: str, with_snapshots: bool) -> list[str] | None:
    """Formats of a subvolume-backed volume; None for volumes the dir type handles."""
    vol = parse_volname(volname)
    if vol.vtype != "images" or vol.format not in SUBVOL_FORMATS:
        return None
    sized = "raw+size" if vol.format == "raw" else "tar+size"
    return ["btrfs"] if with_snapshots else ["btrfs", sized]


async def export(
    plugin: BtrfsPlugin,
    volname: str,
    fmt: str,
    dest: Path,
    snapshot: str | None,
    with_snapshots: bool,
) -> None:
    """Write ``volname`` (or its ``snapshot``) as ``fmt`` to ``dest``."""
    if fmt not in (export_formats(volname, with_snapshots) or []):
        raise ParamError.one("format", f"export format '{fmt}' not supported for '{volname}'")
    vol, sub = plugin.disk(volname)
    src = plugin.snap_pair(volname, snapshot)[1] if snapshot else sub
    if fmt == "raw+size":
        await send_sized(src / RAW_FILE, dest, (src / RAW_FILE).stat().st_size)
    elif fmt == "tar+size":
        await ops.tar_send_sized(src, dest, (await plugin.volume_size_info(volname))[0])
    else:
        await _send(plugin, vol, sub, snapshot, with_snapshots, dest)


async def _send(
    plugin: BtrfsPlugin,
    vol: Volume,
    sub: Path,
    snapshot: str | None,
    with_snapshots: bool,
    dest: Path,
) -> None:
    temp = plugin.subvolume(vol, EXPORT_SNAP) if snapshot is None else None
    state = temp or plugin.subvolume(vol, snapshot)
    if not os.path.lexists(state) and temp is None:
        raise PyxisError(f"snapshot '{snapshot}' of '{vol.volname()}' does not exist")
    olds = [s for s in plugin.snapshots(sub) if s != state] if with_snapshots else []
    if temp is not None:
        await ops.subvol_snapshot(sub, temp, readonly=True)
    try:
        await ops.send([*olds, state], dest)
    finally:
        if temp is not None:
            await ops.subvol_delete(temp)


async def import_sized(
    plugin: BtrfsPlugin, vmid: int, name: str | None, fmt: str, src: Path
) -> str:
    """A new volume for ``vmid`` from a ``raw+size`` or ``tar+size`` stream.

    The volume is made empty first and sized from the header afterwards (the header
    is read by the same process that reads the data, see ``ops.receive_sized``).
    """
    volname = await plugin.alloc_image(vmid, "raw" if fmt == "raw+size" else "subvol", name, 0)
    target = Path(plugin.path(volname))
    try:
        if fmt == "raw+size":
            dd = ["env", "LC_ALL=C", "dd", f"of={target}", "bs=4M", "conv=sparse,notrunc"]
            size, err = await ops.receive_sized(src, dd)
            # Sparse writes leave the file short of trailing zeros, so count what dd read.
            m = DD_BYTES_RE.search(err)
            if m is None or int(m.group(1)) != size:
                raise PyxisError("import stream length does not match its size header")
            os.truncate(target, size)
        else:
            size, _ = await ops.receive_sized(
                src, ["tar", *ops.TAR_FLAGS, "-C", str(target), "-xf", "-"]
            )
            # Without quotas the size cannot be kept: the subvolume stays unsized.
            if size > 0 and await ops.quotas_enabled(target):
                await ops.qgroup_limit(target, size)
    except BaseException:
        await plugin.free_image(volname)
        raise
    return volname


async def receive(
    plugin: BtrfsPlugin, vmid: int, name: str | None, src: Path, snapshot: str | None
) -> str:
    """A new volume for ``vmid`` from a ``btrfs`` stream whose state is ``snapshot``."""
    imgdir = plugin._image_dir(vmid)
    imgdir.mkdir(parents=True, exist_ok=True)
    tmp = imgdir / f"recv.{vmid}.tmp"
    try:
        tmp.mkdir()
    except FileExistsError as err:
        raise PyxisError(
            f"temp receive directory already exists at '{tmp}', incomplete concurrent import?"
        ) from err
    try:
        await ops.receive(src, tmp)
        try:
            current, others = received_plan(os.listdir(tmp), snapshot or EXPORT_SNAP)
        except ValueError as err:
            raise PyxisError(str(err)) from err
        got = tmp / snap_dir(current.subvol, str(current.snap))
        if current.format == "raw" and not (got / RAW_FILE).is_file():
            raise PyxisError(f"received subvolume has no '{RAW_FILE}'")
        volname = f"{vmid}/{plugin.new_disk_name(vmid, current.format, name)}"
        vol, dest = plugin.disk(volname)
        # Read-only subvolumes cannot move to another directory: make them writable.
        await ops.set_readonly(got, False)
        ops.rename2(got, dest, ops.RENAME_NOREPLACE)
        if snapshot is not None:
            await ops.subvol_snapshot(dest, plugin.subvolume(vol, snapshot), readonly=True)
        for snap in others:
            old, new = tmp / snap_dir(current.subvol, snap), plugin.subvolume(vol, snap)
            await ops.set_readonly(old, False)
            ops.rename2(old, new, ops.RENAME_NOREPLACE)
            await ops.set_readonly(new, True)
    finally:
        leftovers = [tmp / n for n in os.listdir(tmp)] if tmp.is_dir() else []
        with suppress(PyxisError):
            await ops.subvol_delete(*leftovers)
        with suppress(OSError):
            await asyncio.to_thread(tmp.rmdir)
    return volname
