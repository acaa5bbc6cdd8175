"""btrfs primitives for the ``btrfs`` storage type: thin wrappers over ``btrfs-progs``.

Subvolume create/snapshot/delete, the read-only property, quota groups, send/receive
to and from a path (file or FIFO), the ``tar+size`` stream of a subvolume, the NOCOW
file flag and an atomic ``renameat2``.  Every command goes through
``pyxis.util.run``; stream bytes pass from process to file (or FIFO) and never
through Python.  Where one process must append to a stream another part wrote (the
``+size`` header), a fixed ``sh -c`` script receives the paths as positional
arguments, so no path is ever parsed by a shell.
"""

from __future__ import annotations

import asyncio
import ctypes
import fcntl
import os
import stat
import struct
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pyxis.errors import CommandError, PyxisError
from pyxis.storage.plugin import SIZE_HEADER
from pyxis.storage.plugins.btrfs_names import parse_qgroup, parse_rootid
from pyxis.util.run import run

BTRFS_FIRST_FREE_OBJECTID = 256  # the inode number of every subvolume's root directory
FS_IOC_GETFLAGS = 0x80086601
FS_IOC_SETFLAGS = 0x40086602
FS_NOCOW_FL = 0x00800000
AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
# As upstream's volume export of container subvolumes (pve-storage COMMON_TAR_FLAGS).
TAR_FLAGS = (
    "--one-file-system",
    "-p",
    "--sparse",
    "--numeric-owner",
    "--acls",
    "--xattrs",
    "--xattrs-include=user.*",
    "--xattrs-include=security.capability",
    "--warning=no-file-ignored",
    "--warning=no-xattr-write",
)
# ``$1`` = output file, the rest = the command whose stdout is appended to it.
APPEND_SCRIPT = 'out=$1; shift; exec "$@" >>"$out"'
# ``$1`` = stream, ``$2`` = file for its 8-byte header, the rest = the command that
# reads the remaining data on stdin (same open file, so it starts right after).
RECV_SCRIPT = (
    'in=$1; hdr=$2; shift 2; exec <"$in" || exit 1; '
    'dd bs=8 count=1 iflag=fullblock of="$hdr" status=none && exec "$@"'
)


async def btrfs(*args: str, quiet: bool = True) -> str:
    """Run ``btrfs [-q] ARGS`` and return its stdout (``-q`` silences reports too)."""
    return (await run(["btrfs", *(["-q"] if quiet else []), *args])).stdout


async def assert_btrfs(path: Path) -> None:
    """Refuse a storage path that is not on a btrfs file system."""
    res = await run(["stat", "-f", "-c", "%T", str(path)], check=False)
    if res.returncode != 0 or res.stdout.strip() != "btrfs":
        raise PyxisError(f"'{path}' is not a btrfs file system")


def is_subvolume(path: Path) -> bool:
    """Whether ``path`` is the root of a subvolume (the test btrfs-progs uses)."""
    try:
        st = path.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_ino == BTRFS_FIRST_FREE_OBJECTID


async def subvol_create(path: Path) -> None:
    await btrfs("subvolume", "create", "--", str(path))


async def subvol_snapshot(src: Path, dst: Path, *, readonly: bool = False) -> None:
    ro = ["-r"] if readonly else []
    await btrfs("subvolume", "snapshot", *ro, "--", str(src), str(dst))


async def subvol_delete(*paths: Path) -> None:
    if paths:
        await btrfs("subvolume", "delete", "--", *(str(p) for p in paths))


async def set_readonly(path: Path, readonly: bool) -> None:
    # -f: making a received subvolume writable drops its received UUID (wanted).
    await btrfs("property", "set", "-f", str(path), "ro", "true" if readonly else "false")


async def subvol_id(path: Path) -> int:
    return parse_rootid(await btrfs("inspect-internal", "rootid", str(path), quiet=False))


async def quotas_enabled(path: Path) -> bool:
    """Whether quota groups are enabled on the file system holding ``path``."""
    res = await run(["btrfs", "qgroup", "show", "--raw", "-r", str(path)], check=False)
    return res.returncode == 0


async def qgroup_usage(path: Path) -> tuple[int, int | None]:
    """(referenced bytes, limit or None) of the subvolume at ``path``."""
    sid = await subvol_id(path)
    text = await btrfs("qgroup", "show", "--raw", "-r", "-f", str(path), quiet=False)
    try:
        return parse_qgroup(text, sid)
    except ValueError as err:
        raise PyxisError(f"failed to get subvolume size for '{path.name}'") from err


async def qgroup_limit(path: Path, size: int | None) -> None:
    """Limit the referenced bytes of the subvolume at ``path`` (None: no limit)."""
    sid = await subvol_id(path)
    await btrfs("qgroup", "limit", "none" if size is None else str(size), f"0/{sid}", str(path))


def set_nocow(path: Path) -> None:
    """Set the NOCOW flag on a still empty file (it only applies to new extents)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        buf = fcntl.ioctl(fd, FS_IOC_GETFLAGS, struct.pack("l", 0))
        (flags,) = struct.unpack("l", buf)
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("l", flags | FS_NOCOW_FL))
    finally:
        os.close(fd)


def has_nocow(path: Path) -> bool:
    fd = os.open(path, os.O_RDONLY)
    try:
        (flags,) = struct.unpack("l", fcntl.ioctl(fd, FS_IOC_GETFLAGS, struct.pack("l", 0)))
    finally:
        os.close(fd)
    return bool(flags & FS_NOCOW_FL)


def rename2(src: Path, dst: Path, flags: int) -> None:
    """``renameat2``: RENAME_EXCHANGE swaps two paths atomically, RENAME_NOREPLACE
    refuses an existing target."""
    libc = ctypes.CDLL(None, use_errno=True)
    fn = libc.renameat2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(AT_FDCWD, os.fsencode(src), AT_FDCWD, os.fsencode(dst), flags) != 0:
        err = ctypes.get_errno()
        raise PyxisError(f"failed to move '{src}' to '{dst}' - {os.strerror(err)}")


# -- streams -------------------------------------------------------------------------


async def send(subvols: Sequence[Path], dest: Path) -> None:
    """``btrfs send`` read-only subvolumes, in order, as one stream into ``dest``."""
    # -e leaves out the end marker between subvolumes, so that one receive takes all.
    await run(
        ["btrfs", "-q", "send", "-e", "-f", str(dest), "--", *(str(p) for p in subvols)],
        timeout=None,
    )


async def receive(src: Path, into: Path) -> None:
    """``btrfs receive`` the stream at ``src`` into the directory ``into``."""
    await run(["btrfs", "-q", "receive", "-e", "-f", str(src), "--", str(into)], timeout=None)


async def _open_for_write(dest: Path) -> int:
    # Opening a FIFO blocks until the reader comes; keep the event loop free meanwhile.
    return await asyncio.to_thread(os.open, dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)


async def tar_send_sized(subvol: Path, dest: Path, size: int) -> None:
    """``tar+size``: the 8-byte size header, then a tar of the subvolume's contents."""
    fd = await _open_for_write(dest)
    try:
        os.write(fd, SIZE_HEADER.pack(size))
        # Our fd stays open so a FIFO reader never sees EOF between header and data.
        tar = ["tar", *TAR_FLAGS, "-cf", "-", "-C", str(subvol), "."]
        await run(["sh", "-c", APPEND_SCRIPT, "sh", str(dest), *tar], timeout=None)
    finally:
        os.close(fd)


async def receive_sized(src: Path, cmd: list[str]) -> tuple[int, str]:
    """Run ``cmd`` on a ``+size`` stream: the header is read first, ``cmd`` gets the rest
    on stdin.  Returns (size from the header, ``cmd``'s stderr).

    One process opens the stream once: re-opening a FIFO whose writer is done already
    would block for ever, so the header is not read from Python.
    """
    with tempfile.TemporaryDirectory(prefix="pyxis-recv-") as tmp:
        hdr = Path(tmp) / "size"
        res = await run(
            ["sh", "-c", RECV_SCRIPT, "sh", str(src), str(hdr), *cmd], timeout=None, check=False
        )
        header = hdr.read_bytes() if hdr.exists() else b""
    if len(header) != SIZE_HEADER.size:
        raise PyxisError("import stream ended before its size header")
    if res.returncode != 0:
        raise CommandError([cmd[0], *cmd[1:]], res.returncode, res.stderr)
    (size,) = SIZE_HEADER.unpack(header)
    return int(size), res.stderr
