"""The container config key registry and typed access to config values.

``CT_KEYS`` declares every key of ``lxc/<vmid>.conf`` in the upstream schema dialect
(indexed families as ``mp[n]``/``net[n]`` with ``x-index-max``); storage keys live in
``keys_mp``, network keys in ``keys_net``, the raw ``lxc.*`` allow-list in
``keys_raw``.  Values stay strings in the file model (``pyxis.guests.qemu.config``
with its ``LXC`` dialect); ``parse_value`` types and validates one, ``print_value``
prints one back.  Both go through the shared ``KeySet`` so VMs and containers agree
on the rules (no line breaks outside ``description``, property-string quoting).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pyxis.guests.keyschema import KeySet, register_formats
from pyxis.guests.lxc.keys_mp import (
    ALLOC_RE,
    DEV,
    MP,
    MP_KEY_RE,
    MP_KEYS,
    MP_MAX,
    ROOTFS,
    MountPoint,
    mountpoints,
    parse_mountpoint,
    volume_kind,
)
from pyxis.guests.lxc.keys_net import NET, NET_KEYS, NET_MAX, mac_generate, parse_net
from pyxis.guests.lxc.keys_raw import check_raw_key, is_raw_key
from pyxis.schema.propstr import Format

__all__ = [
    "ALLOC_RE",
    "CT_KEYS",
    "DEV",
    "INTERNAL_KEYS",
    "LOCKS",
    "MP",
    "MP_MAX",
    "NET",
    "NET_MAX",
    "OSTYPES",
    "ROOTFS",
    "MountPoint",
    "check_raw_key",
    "is_raw_key",
    "is_root_only",
    "key_schema",
    "mac_generate",
    "mountpoints",
    "parse_features",
    "parse_mountpoint",
    "parse_net",
    "parse_value",
    "print_value",
    "volume_kind",
]

Schema = dict[str, Any]

OSTYPES = [
    "debian",
    "devuan",
    "ubuntu",
    "centos",
    "fedora",
    "opensuse",
    "archlinux",
    "alpine",
    "gentoo",
    "nixos",
    "unmanaged",
]
ARCHES = ["amd64", "i386", "arm64", "armhf", "riscv32", "riscv64"]
LOCKS = [
    "backup",
    "create",
    "destroyed",
    "disk",
    "fstrim",
    "migrate",
    "mounted",
    "rollback",
    "snapshot",
    "snapshot-delete",
]
# printable characters, tab, newline excepted as upstream words it (control chars no)
_NO_CTRL = r"[^\x00-\x08\x10-\x1F\x7F]"


def _opt(typ: str, **extra: Any) -> Schema:
    return {"type": typ, "optional": 1, **extra}


FEATURES: Format = {
    "nesting": _opt("boolean", default=0),
    "keyctl": _opt("boolean", default=0),
    "fuse": _opt("boolean", default=0),
    "mount": _opt("string", pattern=r"(?^:[a-zA-Z0-9_; ]+)"),
    "mknod": _opt("boolean", default=0),
    "force_rw_sys": _opt("boolean", default=0),
}

GENERAL_KEYS: dict[str, Schema] = {
    "hostname": _opt("string", format="dns-name", maxLength=255),
    "ostype": _opt("string", enum=OSTYPES),
    "arch": _opt("string", enum=ARCHES, default="amd64"),
    "cores": _opt("integer", minimum=1, maximum=8192),
    "cpulimit": _opt("number", minimum=0, maximum=8192, default=0),
    "cpuunits": _opt(
        "integer", minimum=0, maximum=500000, default="cgroup v1: 1024, cgroup v2: 100"
    ),
    "memory": _opt("integer", minimum=16, default=512),
    "swap": _opt("integer", minimum=0, default=512),
    "unprivileged": _opt("boolean", default=0),
    "features": _opt("string", format=FEATURES),
    "onboot": _opt("boolean", default=0),
    "startup": _opt("string", format="pve-startup-order"),
    "protection": _opt("boolean", default=0),
    "tags": _opt("string", format="pve-tag-list"),
    "description": _opt("string", maxLength=8192),
    "hookscript": _opt("string", format="pve-volume-id"),
    "lock": _opt("string", enum=LOCKS),
    "template": _opt("boolean", default=0),
    "console": _opt("boolean", default=1),
    "tty": _opt("integer", minimum=0, maximum=6, default=2),
    "cmode": _opt("string", enum=["shell", "console", "tty"], default="tty"),
    "timezone": _opt("string", format="pve-ct-timezone"),
    "entrypoint": _opt("string", pattern=f"(?^:{_NO_CTRL}+)", default="/sbin/init"),
    "env": _opt("string", pattern=rf"(?^:(?:\w+={_NO_CTRL}*)(?:\0\w+={_NO_CTRL}*)*)"),
    "debug": _opt("boolean", default=0),
}

# Written by the platform, never accepted from API callers.
INTERNAL_KEYS: dict[str, Schema] = {
    "parent": _opt("string", format="pve-configid", maxLength=40),
    "snaptime": _opt("integer", minimum=0),
    "snapstate": _opt("string", enum=["prepare", "delete"]),
}

CT_KEYS: dict[str, Schema] = {**GENERAL_KEYS, **MP_KEYS, **NET_KEYS, **INTERNAL_KEYS}
KEYS = KeySet(CT_KEYS)


def _timezone(value: str) -> str:
    if value == "host" or re.fullmatch(r"[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+)*", value):
        return value
    raise ValueError(f"invalid time zone '{value}'")


register_formats({"pve-ct-timezone": _timezone})

_RAW_SCHEMA: Schema = {"type": "string", "optional": 1}


def key_schema(key: str) -> Schema | None:
    """The schema for ``key`` (``mp3`` resolves to ``mp[n]``; an allowed ``lxc.*`` key
    gets a plain string schema), or None if unknown."""
    if is_raw_key(key):
        try:
            check_raw_key(key, "")
        except ValueError:
            return None
        return _RAW_SCHEMA
    return KEYS.schema(key)


def parse_value(key: str, value: str) -> Any:
    """Typed value of config ``key`` (dict for property strings); ValueError naming it."""
    if is_raw_key(key):
        return check_raw_key(key, value)
    typed = KEYS.parse_value(key, value)
    if key == "rootfs" or MP_KEY_RE.match(key):
        parse_mountpoint(key, value)  # the target path rules the format cannot express
    return typed


def print_value(key: str, data: Any) -> str:
    """Config text for ``key``; validated as ``parse_value`` does."""
    if is_raw_key(key):
        return check_raw_key(key, str(data))
    return KEYS.print_value(key, data)


def parse_features(conf: Mapping[str, str]) -> dict[str, Any]:
    """The parsed ``features`` of ``conf`` with ``mount`` split into a list."""
    raw = conf.get("features")
    feats: dict[str, Any] = dict(KEYS.parse_value("features", raw)) if raw else {}
    mounts = str(feats.get("mount", ""))
    feats["mount"] = [m.strip() for m in mounts.split(";") if m.strip()]
    return feats


def is_root_only(key: str, value: str | None) -> bool:
    """Whether setting ``key`` (to ``value``) is reserved to ``root@pam``: raw LXC keys,
    device passthrough, and mount points that bind host paths or devices."""
    if is_raw_key(key) or key.startswith("dev"):
        return True
    if value is None:
        return False
    if key == "rootfs" or (key.startswith("mp") and key[2:].isdigit()):
        try:
            return parse_mountpoint(key, value).kind in ("bind", "device")
        except ValueError:
            return False
    return False


def snapshot_keys_ok(section: Mapping[str, str]) -> None:
    """Validate every key of a config section; ValueError naming the first bad one."""
    for key, value in section.items():
        if key_schema(key) is None:
            raise ValueError(f"{key}: unknown configuration key")
        parse_value(key, value)
