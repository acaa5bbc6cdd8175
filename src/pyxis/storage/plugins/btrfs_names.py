"""Pure naming rules of the ``btrfs`` storage type (no I/O, table-tested).

Volnames are the dir layout's (``<vmid>/vm-<vmid>-disk-<n>.raw``,
``<vmid>/subvol-<vmid>-disk-<n>.subvol``, templates ``base-...``), but on disk a raw
image lives as ``disk.raw`` inside a subvolume named without the ``.raw`` suffix
(``images/<vmid>/vm-<vmid>-disk-<n>/disk.raw``), a container volume is the subvolume
``images/<vmid>/subvol-<vmid>-disk-<n>.subvol`` itself, and a snapshot is a read-only
sibling subvolume ``<subvolume>@<snap>``.  This module maps between the three, parses
directory entries and received ``btrfs send`` streams, and reads the output of
``btrfs qgroup show`` and ``btrfs inspect-internal rootid``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RAW_FILE = "disk.raw"
# The temporary read-only snapshot a stream of the *current* state is sent from.  It
# cannot clash with a guest snapshot: those must start with a letter.
EXPORT_SNAP = "__export__"
SUBVOL_FORMATS = ("raw", "subvol")

# A subvolume directory: no dots in the disk part (``.subvol`` is the only suffix of a
# directory), an optional ``@<snap>``; plain image files keep their extension.
ENTRY_RE = re.compile(
    r"^(?P<disk>[A-Za-z0-9_+=\-]+)(?:\.(?P<ext>subvol|qcow2|vmdk))?(?:@(?P<snap>[^/\s]+))?\Z"
)
# Names a snapshot may have on disk (guest snapshots are stricter, see CONFIGID_RE).
SNAP_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_+=.\-]*\Z")
DISK_RE = re.compile(r"^(?:vm|base|subvol|basevol)-[1-9][0-9]*-")
QGROUP_ROW_RE = re.compile(
    r"^(?P<id>\d+/\d+)\s+(?P<rfer>\d+)\s+(?P<excl>\d+)\s+(?P<max>\d+|none)\b"
)


@dataclass(frozen=True)
class Entry:
    """One name found in ``images/<vmid>/``: the volume it belongs to, and a snapshot."""

    subvol: str  # the directory (or file) name without any ``@snap``
    image: str  # the image name used in volnames (``vm-100-disk-0.raw``)
    format: str
    snap: str | None = None


def subvol_dir(image: str, fmt: str) -> str:
    """The subvolume directory of an image name: ``vm-1-disk-0.raw`` -> ``vm-1-disk-0``."""
    if fmt == "raw":
        if not image.endswith(".raw"):
            raise ValueError(f"bad raw disk name '{image}'")
        return image.removesuffix(".raw")
    if fmt == "subvol":
        if not image.endswith(".subvol"):
            raise ValueError(f"bad subvolume name '{image}'")
        return image
    raise ValueError(f"format '{fmt}' is not kept in a subvolume")


def snap_dir(subvol: str, snap: str) -> str:
    """``<subvol>@<snap>``, refusing snapshot names that are not plain file names."""
    if not SNAP_RE.match(snap):
        raise ValueError(f"invalid snapshot name '{snap}'")
    return f"{subvol}@{snap}"


def parse_entry(name: str) -> Entry | None:
    """A directory entry of ``images/<vmid>/`` -> Entry; None for anything else."""
    m = ENTRY_RE.match(name)
    if not m or not DISK_RE.match(m.group("disk")):
        return None
    snap = m.group("snap")
    if snap is not None and not SNAP_RE.match(snap):
        return None
    ext = m.group("ext")
    disk = m.group("disk")
    if ext is None:
        return Entry(disk, f"{disk}.raw", "raw", snap)
    if snap is not None and ext != "subvol":
        return None  # files have no btrfs snapshots
    return Entry(f"{disk}.{ext}", f"{disk}.{ext}", ext, snap)


def received_plan(names: list[str], current: str) -> tuple[Entry, list[str]]:
    """Check what a ``btrfs receive`` left in its temporary directory.

    Every entry must be a snapshot ``<disk>@<snap>`` of one and the same disk, and the
    snapshot ``current`` (the state to become the volume) must be among them.  Returns
    the current entry and the other snapshot names, sorted.
    """
    disk: str | None = None
    found: Entry | None = None
    others: list[str] = []
    for name in sorted(names):
        entry = parse_entry(name)
        if entry is None or entry.format not in SUBVOL_FORMATS:
            raise ValueError(f"unexpected subvolume '{name}' in the stream")
        if entry.snap is None:
            raise ValueError("send stream included a non-snapshot subvolume")
        if disk is not None and entry.subvol != disk:
            raise ValueError(f"multiple disks contained in stream ('{disk}' vs '{entry.subvol}')")
        disk = entry.subvol
        if entry.snap == current:
            found = entry
        else:
            others.append(entry.snap)
    if found is None:
        raise ValueError(f"send stream did not contain the expected snapshot '{current}'")
    return found, others


def parse_rootid(text: str) -> int:
    """The subvolume id printed by ``btrfs inspect-internal rootid``."""
    value = text.strip()
    if not value.isdigit():
        raise ValueError(f"unexpected subvolume id '{value}'")
    return int(value)


def parse_qgroup(text: str, subvol_id: int) -> tuple[int, int | None]:
    """(referenced bytes, referenced limit or None) of qgroup ``0/<subvol_id>`` in
    ``btrfs qgroup show --raw -r`` output."""
    want = f"0/{subvol_id}"
    for line in text.splitlines():
        m = QGROUP_ROW_RE.match(line.strip())
        if m and m.group("id") == want:
            limit = m.group("max")
            return int(m.group("rfer")), None if limit == "none" else int(limit)
    raise ValueError(f"qgroup {want} not found")
