"""Config keys for VM management (name, description, tags, start-up, locks, hotplug)
and the internal keys the platform writes itself (snapshot bookkeeping, the machine
and CPU a running guest was started with, creation metadata).
"""

from __future__ import annotations

from typing import Any

from pyxis.guests.qemu.keys_hw import MACHINE, META

Schema = dict[str, Any]

LOCKS = [
    "backup",
    "clone",
    "create",
    "migrate",
    "rollback",
    "snapshot",
    "snapshot-delete",
    "suspending",
    "suspended",
]


def _opt(typ: str, **extra: Any) -> Schema:
    return {"type": typ, "optional": 1, **extra}


MISC_KEYS: dict[str, Schema] = {
    "name": _opt("string", format="dns-name"),
    "description": _opt("string", maxLength=8192),
    "tags": _opt("string", format="pve-tag-list"),
    "onboot": _opt("boolean", default=0),
    "startup": _opt("string", format="pve-startup-order"),
    "autostart": _opt("boolean", default=0),
    "reboot": _opt("boolean", default=1),
    "protection": _opt("boolean", default=0),
    "template": _opt("boolean", default=0),
    "lock": _opt("string", enum=LOCKS),
    "hotplug": _opt("string", format="pve-hotplug-features", default="network,disk,usb"),
    "hookscript": _opt("string", format="pve-volume-id"),
    "freeze": _opt("boolean"),
    "migrate_downtime": _opt("number", minimum=0, default=0.1),
    "migrate_speed": _opt("integer", minimum=0, default=0),
    "vmstatestorage": _opt("string", format="pve-storage-id"),
    "meta": _opt("string", format=META),
}

# Written by the platform, never accepted from API callers (GET /config shows them).
INTERNAL_KEYS: dict[str, Schema] = {
    "parent": _opt("string", format="pve-configid", maxLength=40),
    "snaptime": _opt("integer", minimum=0),
    "vmstate": _opt("string", format="pve-volume-id"),
    # not in schema.json: only ever inside a snapshot section of the file
    "snapstate": _opt("string", enum=["prepare", "delete"]),
    "runningmachine": _opt("string", format=MACHINE),
    "runningcpu": _opt("string", pattern=r"(?^:^((?>[+-]?[\w\-\._=]+,?)+)$)"),
    "running-nets-host-mtu": _opt("string", pattern=r"net\d+=\d+(,net\d+=\d+)*"),
}
