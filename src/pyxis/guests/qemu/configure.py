"""Applying a set of config changes to a VM: set, delete, revert; now or as pending.

Upstream semantics: on a stopped VM every change lands in the main section at once; on
a running VM changes that can be applied live (options like name/description/onboot,
and hotplug of disks and NICs when ``hotplug`` allows it) are applied, the rest wait in
``[PENDING]`` until the next start.  Deleting a disk moves its volume to ``unusedN``;
deleting an ``unusedN`` entry frees the volume.  ``revert`` drops pending changes.
"""

from __future__ import annotations

from typing import Any

from pyxis.errors import ParamError
from pyxis.guests import pending
from pyxis.guests.pending import add_pending as add_pending  # re-exported API
from pyxis.guests.pending import revert_pending as revert_pending
from pyxis.guests.pending import split_list as split_list
from pyxis.guests.qemu.cloudinit_drive import volume_of as cloudinit_volume
from pyxis.guests.qemu.config import VmConfig
from pyxis.guests.qemu.disks import volume_of
from pyxis.guests.qemu.keys import is_drive_key, key_schema, parse_value

# Keys that never need a restart: applied directly even while running.
LIVE_KEYS = {
    "name",
    "description",
    "onboot",
    "protection",
    "tags",
    "startup",
    "hookscript",
    "lock",
    "template",
    "agent",
    "ciuser",
    "cipassword",
    "citype",
    "cicustom",
    "sshkeys",
    "nameserver",
    "searchdomain",
    "ciupgrade",
    "boot",
    "bootdisk",
}
UNUSED_MAX = 255


def check_keys(changes: dict[str, str], deletes: list[str], reverts: list[str]) -> None:
    """Unknown keys, set+delete of one key, read-only keys: 400 naming the key."""
    errors: dict[str, str] = {}
    for key in [*changes, *deletes, *reverts]:
        if key_schema(key) is None:
            errors[key] = "unknown configuration key"
    for key in deletes:
        if key in changes:
            errors[key] = "cannot set and delete the same key"
    for key in reverts:
        if key in changes or key in deletes:
            errors[key] = "cannot revert and change the same key"
    for key in ("parent", "snaptime", "vmstate", "runningmachine", "runningcpu"):
        if key in changes:
            errors[key] = "read-only key"
    if errors:
        raise ParamError(errors)


def referenced_volumes(cfg: VmConfig) -> set[str]:
    """Every volume the config (main, pending and snapshots) points at."""
    out: set[str] = set()
    for section in (cfg.main, cfg.pending, *cfg.snapshots.values()):
        for key, value in section.items():
            if is_drive_key(key) or key.startswith("unused") or key == "vmstate":
                vol = volume_of(key, value) if is_drive_key(key) else value.split(",")[0]
                if vol:
                    out.add(vol)
                if is_drive_key(key) and (ci := cloudinit_volume(key, value)):
                    out.add(ci)
    return out


def apply_stopped(cfg: VmConfig, changes: dict[str, str], deletes: list[str]) -> list[str]:
    """Apply changes directly; return volumes that became garbage (deleted unusedN)."""
    conf = cfg.main
    freed: list[str] = []
    for key in deletes:
        old = conf.pop(key, None)
        cfg.pending.pop(key, None)
        if old is None:
            continue
        if key.startswith("unused"):
            freed.append(old)
        elif is_drive_key(key):
            vol = volume_of(key, old)
            if vol and vol not in _in_use(cfg, exclude=key):
                conf[next_unused(conf)] = vol
            if ci := cloudinit_volume(key, old):
                freed.append(ci)  # generated data: nothing to keep
    for key, value in changes.items():
        old = conf.get(key)
        if old is not None and is_drive_key(key):
            ci = cloudinit_volume(key, old)
            if ci and ci != cloudinit_volume(key, value):
                freed.append(ci)
            vol = volume_of(key, old)
            if vol and vol != volume_of(key, value) and vol not in _in_use(cfg, exclude=key):
                conf[next_unused(conf)] = vol
        conf[key] = value
        cfg.pending.pop(key, None)
    cfg.pending_delete = [d for d in cfg.pending_delete if d.lstrip("!") not in deletes]
    # a volume re-attached from unusedN is no longer unused
    attached = {volume_of(k, v) for k, v in conf.items() if is_drive_key(k)}
    for key in [k for k in conf if k.startswith("unused") and conf[k] in attached]:
        del conf[key]
    return freed


def _in_use(cfg: VmConfig, exclude: str) -> set[str]:
    used: set[str] = set()
    for key, value in cfg.main.items():
        if key != exclude and is_drive_key(key):
            vol = volume_of(key, value)
            if vol:
                used.add(vol)
    for snap in cfg.snapshots.values():
        for key, value in snap.items():
            if is_drive_key(key):
                vol = volume_of(key, value)
                if vol:
                    used.add(vol)
    return used


def next_unused(conf: dict[str, str]) -> str:
    return pending.next_unused(conf, "disks")


def apply_pending(cfg: VmConfig) -> list[str]:
    """Fold ``[PENDING]`` into the main section (at start); return freed volumes."""
    changes, deletes = pending.take_pending(cfg)
    return apply_stopped(cfg, changes, deletes)


def config_view(cfg: VmConfig, current: bool) -> dict[str, Any]:
    """GET .../config: main values, or with ``current=0`` pending values applied."""
    return pending.config_view(cfg, current, key_schema, parse_value)


def typed_values(values: dict[str, Any]) -> dict[str, Any]:
    return pending.typed_values(values, key_schema, parse_value)
