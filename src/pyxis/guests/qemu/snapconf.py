"""Snapshot sections of a VM config: the pure bookkeeping of create, rollback, delete.

A snapshot ``[name]`` section holds a copy of the main section at snapshot time
(without ``lock``, unused volumes and the snapshot-only keys), plus ``snaptime``, an
optional ``description``, ``parent`` (the snapshot the VM ran on, so sections form a
tree) and, while an operation runs, ``snapstate: prepare|delete``.  The main section's
``parent`` names the latest snapshot.  ``vmstate`` marks a snapshot that holds RAM: in
Pyxis the state lives inside an internal qcow2 snapshot of one of the VM's disks, so
the value is that disk's volume id (it is *not* a separate state volume to free).

Every function here edits a ``VmConfig`` in place and raises ``SnapshotError`` (a 400
or 409 ``PyxisError``) on misuse; storage and QEMU work is ``snapshots.py``'s job.
"""

from __future__ import annotations

from pyxis.errors import Conflict, ParamError, PyxisError
from pyxis.guests.qemu.config import SNAPNAME_RE, VmConfig
from pyxis.guests.qemu.configure import next_unused
from pyxis.guests.qemu.disks import volume_of
from pyxis.guests.qemu.keys import is_drive_key

RESERVED = frozenset({"current", "pending"})
# Keys that describe a snapshot itself, never copied between main and a section.
SNAP_ONLY = frozenset({"snaptime", "snapstate", "vmstate", "description", "lock"})


class SnapshotError(PyxisError):
    """A snapshot operation that the config does not allow (400 unless said otherwise)."""

    status = 400


def check_name(name: str) -> None:
    if not SNAPNAME_RE.match(name) or len(name) > 40:
        raise ParamError.one("snapname", f"invalid snapshot name '{name}'")
    if name.lower() in RESERVED:
        raise ParamError.one("snapname", f"unable to use snapshot name '{name}' (reserved name)")


def get(cfg: VmConfig, name: str) -> dict[str, str]:
    snap = cfg.snapshots.get(name)
    if snap is None:
        raise SnapshotError(f"snapshot '{name}' does not exist", status=404)
    return snap


def check_unlocked(cfg: VmConfig) -> None:
    lock = cfg.main.get("lock")
    if lock:
        raise Conflict(f"VM is locked ({lock})")


def disk_volumes(section: dict[str, str]) -> dict[str, str]:
    """``{drive key: volume id}`` of the disks (not CD-ROMs, not paths) of a section."""
    out: dict[str, str] = {}
    for key in sorted(section):
        if is_drive_key(key):
            vol = volume_of(key, section[key])
            if vol:
                out[key] = vol
    return out


def _copy(source: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in source.items() if k not in SNAP_ONLY and not k.startswith("unused")}


def prepare(
    cfg: VmConfig, name: str, now: int, description: str = "", vmstate: str | None = None
) -> dict[str, str]:
    """Lock the config for ``snapshot`` and add the section in state ``prepare``."""
    check_name(name)
    check_unlocked(cfg)
    if cfg.main.get("template") == "1":
        raise SnapshotError("you can't take a snapshot if it's a template")
    if name in cfg.snapshots:
        raise SnapshotError(f"snapshot name '{name}' already used")
    snap = _copy(cfg.main)
    snap["snapstate"] = "prepare"
    snap["snaptime"] = str(now)
    if description:
        snap["description"] = description
    if vmstate:
        snap["vmstate"] = vmstate
    cfg.snapshots[name] = snap
    cfg.main["lock"] = "snapshot"
    return snap


def commit(cfg: VmConfig, name: str) -> None:
    """Finish a create: the VM now runs on top of ``name``."""
    snap = get(cfg, name)
    if snap.get("snapstate") != "prepare":
        raise SnapshotError(f"wrong snapshot state ({snap.get('snapstate')}) - commit failed")
    del snap["snapstate"]
    cfg.main["parent"] = name
    if cfg.main.get("lock") == "snapshot":
        del cfg.main["lock"]


def abort(cfg: VmConfig, name: str) -> None:
    """Undo ``prepare`` after a failed create."""
    cfg.snapshots.pop(name, None)
    if cfg.main.get("lock") == "snapshot":
        del cfg.main["lock"]


def mark_delete(cfg: VmConfig, name: str, force: bool = False) -> dict[str, str]:
    """Lock the config for ``snapshot-delete`` and flag the section ``snapstate: delete``.

    ``force`` also takes over a snapshot left half-made or half-deleted by a crash.
    """
    snap = get(cfg, name)
    lock = cfg.main.get("lock")
    if lock and not (force and lock in ("snapshot", "snapshot-delete")):
        raise Conflict(f"VM is locked ({lock})")
    if snap.get("snapstate") and not force:
        raise SnapshotError(f"snapshot '{name}' is in state '{snap['snapstate']}' - use force")
    snap["snapstate"] = "delete"
    cfg.main["lock"] = "snapshot-delete"
    return snap


def remove(cfg: VmConfig, name: str) -> None:
    """Drop section ``name``; its children (and the main section) inherit its parent."""
    snap = get(cfg, name)
    parent = snap.get("parent")
    for section in (cfg.main, *cfg.snapshots.values()):
        if section.get("parent") == name:
            if parent:
                section["parent"] = parent
            else:
                del section["parent"]
    del cfg.snapshots[name]
    if cfg.main.get("lock") in ("snapshot-delete", "snapshot"):
        del cfg.main["lock"]


def rollback_volumes(cfg: VmConfig, name: str) -> dict[str, str]:
    """The disks to roll back; refuses half-made snapshots."""
    snap = get(cfg, name)
    if snap.get("snapstate"):
        state = snap["snapstate"]
        raise SnapshotError(f"unable to rollback to incomplete snapshot (snapstate = {state})")
    return disk_volumes(snap)


def apply_rollback(cfg: VmConfig, name: str) -> list[str]:
    """Make the main section a copy of snapshot ``name`` again (pending changes dropped).

    The main section keeps its description and unused volumes; disks attached now but
    not in the snapshot become ``unusedN`` so they are not lost.  Returns those keys.
    """
    snap = get(cfg, name)
    old = cfg.main
    new = _copy(snap)
    new["parent"] = name
    if "description" in old:
        new["description"] = old["description"]
    for key, value in old.items():
        if key.startswith("unused"):
            new[key] = value
    restored = set(disk_volumes(new).values())
    added: list[str] = []
    for vol in disk_volumes(old).values():
        if vol not in restored and vol not in new.values():
            key = next_unused(new)
            new[key] = vol
            added.append(key)
    for key in [k for k in new if k.startswith("unused") and new[k] in restored]:
        del new[key]
    cfg.main = new
    cfg.pending.clear()
    cfg.pending_delete = []
    return added


def snapshotted_volumes(cfg: VmConfig) -> set[str]:
    """Volumes that some snapshot section still refers to."""
    out: set[str] = set()
    for snap in cfg.snapshots.values():
        out |= set(disk_volumes(snap).values())
    return out
