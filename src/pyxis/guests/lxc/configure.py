"""Applying config changes to a container: set, delete, revert; now or as pending.

As upstream ``pve-container``: on a stopped container every change lands in the main
section; on a running one the options that need no restart are written at once, the
resource limits (``memory``, ``swap``, ``cores``, ``cpulimit``, ``cpuunits``) are
written and pushed into the live cgroup, and everything else waits in
``[pve:pending]`` until the next start.  Removing a mount point keeps its volume as
``unusedN``; deleting ``unusedN`` frees the volume.  ``unprivileged`` is fixed at
creation.  Permission needs per key follow upstream's ``check_ct_modify_config_perm``.
"""

from __future__ import annotations

from typing import Any

from pyxis.errors import ParamError
from pyxis.guests import pending
from pyxis.guests.lxc.keys import key_schema, parse_mountpoint, parse_value
from pyxis.guests.pending import add_pending as add_pending  # re-exported API
from pyxis.guests.pending import revert_pending as revert_pending
from pyxis.guests.pending import split_list as split_list
from pyxis.guests.qemu.config import VmConfig

LIVE_KEYS = frozenset(
    {
        "description",
        "onboot",
        "protection",
        "tags",
        "startup",
        "hookscript",
        "lock",
        "template",
        "cmode",
        "console",
    }
)
CGROUP_KEYS = frozenset({"memory", "swap", "cores", "cpulimit", "cpuunits"})
READ_ONLY = frozenset({"parent", "snaptime", "snapstate", "unprivileged"})
UNUSED_MAX = 255
PRIVS = {
    "cores": "VM.Config.CPU",
    "cpulimit": "VM.Config.CPU",
    "cpuunits": "VM.Config.CPU",
    "memory": "VM.Config.Memory",
    "swap": "VM.Config.Memory",
    "nameserver": "VM.Config.Network",
    "searchdomain": "VM.Config.Network",
}


def privilege_for(key: str) -> str:
    if key == "rootfs" or key.startswith(("mp", "unused")):
        return "VM.Config.Disk"
    if key.startswith("net"):
        return "VM.Config.Network"
    return PRIVS.get(key, "VM.Config.Options")


def is_volume_key(key: str) -> bool:
    return key == "rootfs" or (key.startswith("mp") and key[2:].isdigit())


def volume_of(key: str, value: str) -> str | None:
    """The storage volume a ``rootfs``/``mpN`` value names (None for bind mounts)."""
    try:
        mp = parse_mountpoint(key, value)
    except ValueError:
        return None
    return mp.volume if mp.kind == "volume" else None


def check_keys(
    changes: dict[str, str], deletes: list[str], reverts: list[str], create: bool = False
) -> None:
    """Unknown keys, set+delete of one key, read-only keys: 400 naming the key."""
    errors: dict[str, str] = {}
    for key in [*changes, *deletes, *reverts]:
        if key_schema(key) is None:
            errors[key] = "unknown configuration key"
    for key in deletes:
        if key in changes:
            errors[key] = "cannot set and delete the same key"
        if key in ("rootfs", "unprivileged"):
            errors[key] = "unable to delete required option"
    for key in reverts:
        if key in changes or key in deletes:
            errors[key] = "cannot revert and change the same key"
    for key in READ_ONLY:
        if key in changes and not (create and key == "unprivileged"):
            errors[key] = f"unable to modify read-only option: '{key}'"
    if errors:
        raise ParamError(errors)


def referenced_volumes(cfg: VmConfig) -> set[str]:
    """Every volume the config (main, pending and snapshots) points at."""
    out: set[str] = set()
    for section in (cfg.main, cfg.pending, *cfg.snapshots.values()):
        for key, value in section.items():
            if is_volume_key(key):
                if vol := volume_of(key, value):
                    out.add(vol)
            elif key.startswith("unused"):
                out.add(value.split(",")[0])
    return out


def _in_use(cfg: VmConfig, exclude: str) -> set[str]:
    used: set[str] = set()
    for section in (cfg.main, *cfg.snapshots.values()):
        for key, value in section.items():
            skip = section is cfg.main and key == exclude
            vol = volume_of(key, value) if is_volume_key(key) and not skip else None
            if vol:
                used.add(vol)
    return used


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
            unused = old.split(",")[0]
            if unused not in _in_use(cfg, exclude=""):
                freed.append(unused)
            continue
        gone = volume_of(key, old) if is_volume_key(key) else None
        if gone and gone not in _in_use(cfg, exclude=key):
            conf[next_unused(conf)] = gone
    for key, value in changes.items():
        old = conf.get(key)
        if old is not None and is_volume_key(key):
            prev = volume_of(key, old)
            if prev and prev != volume_of(key, value) and prev not in _in_use(cfg, exclude=key):
                conf[next_unused(conf)] = prev
        conf[key] = value
        cfg.pending.pop(key, None)
    cfg.pending_delete = [d for d in cfg.pending_delete if d.lstrip("!") not in deletes]
    attached = {volume_of(k, v) for k, v in conf.items() if is_volume_key(k)}
    for key in [k for k in conf if k.startswith("unused") and conf[k] in attached]:
        del conf[key]
    return freed


def split_running(
    changes: dict[str, str], deletes: list[str]
) -> tuple[dict[str, str], list[str], dict[str, str], list[str]]:
    """(now, now-deletes, pending, pending-deletes) for a running container."""
    now_keys = LIVE_KEYS | CGROUP_KEYS
    now = {k: v for k, v in changes.items() if k in now_keys}
    later = {k: v for k, v in changes.items() if k not in now_keys}
    now_del = [k for k in deletes if k in now_keys or k.startswith("unused")]
    later_del = [k for k in deletes if k not in now_del]
    return now, now_del, later, later_del


def next_unused(conf: dict[str, str]) -> str:
    return pending.next_unused(conf, "volumes")


def apply_pending(cfg: VmConfig) -> list[str]:
    """Fold ``[pve:pending]`` into the main section (at start); return freed volumes."""
    changes, deletes = pending.take_pending(cfg)
    return apply_stopped(cfg, changes, deletes)


def config_view(cfg: VmConfig, current: bool) -> dict[str, Any]:
    """GET .../config: main values, or (``current=0``) with pending values applied."""
    return pending.config_view(cfg, current, key_schema, parse_value)


def typed_values(values: dict[str, Any]) -> dict[str, Any]:
    return pending.typed_values(values, key_schema, parse_value)
