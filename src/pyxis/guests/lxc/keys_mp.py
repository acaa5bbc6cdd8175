"""Config keys for container storage: ``rootfs``, ``mp[n]``, ``unused[n]`` and ``dev[n]``.

A mount point's ``volume`` is one of: a storage volume (``local:subvol-100-disk-1``),
an allocation request ``STORAGE:SIZE`` (GiB, created on ``create``/``PUT``), a host
directory to bind-mount (``/srv/data``) or a host block device (``/dev/sdb1``).  The
last two are for ``root@pam`` only.  ``mp`` is the path inside the container.  Paths
are refused when they hold ``.``/``..`` components, line breaks or NUL, so that no
value can escape the container's root when it is mounted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pyxis.guests.keyschema import register_formats
from pyxis.schema import formats, propstr
from pyxis.schema.propstr import Format

Schema = dict[str, Any]
MP_MAX = 255
DEV_MAX = 255
UNUSED_MAX = 255
MOUNT_OPTIONS = r"(?^:(?^:(discard|lazytime|noatime|nodev|noexec|nosuid))(;(?^:(discard|lazytime|noatime|nodev|noexec|nosuid)))*)"  # noqa: E501
ALLOC_RE = re.compile(r"^(?:([a-z][a-z0-9\-_.]*[a-z0-9]):)?(\d+(?:\.\d+)?)\Z", re.IGNORECASE)
_BAD_CHARS_RE = re.compile(r"[\x00-\x1f\x7f]")

MpKind = Literal["volume", "alloc", "bind", "device"]


def check_path(value: str, what: str = "path") -> str:
    """An absolute path without ``.``/``..`` components or control characters."""
    if not value.startswith("/"):
        raise ValueError(f"{what} '{value}' must be absolute")
    if _BAD_CHARS_RE.search(value):
        raise ValueError(f"{what} may not contain control characters")
    if any(part in (".", "..") for part in value.split("/")):
        raise ValueError(f"{what} '{value}' may not contain '.' or '..' components")
    return value


def _mp_string(value: str) -> str:
    # a mount target, a bind source, a device, a volume ID or an allocation request
    if value.startswith("/"):
        return check_path(value)
    if ALLOC_RE.match(value):
        return value
    if ":" not in value:
        raise ValueError(f"'{value}' is neither an absolute path nor a volume ID")
    return formats.volume_id(value)


def _dev_string(value: str) -> str:
    check_path(value, "device path")
    if not value.startswith("/dev/"):
        raise ValueError(f"device path '{value}' must be below /dev")
    return value


register_formats({"pve-lxc-mp-string": _mp_string, "pve-lxc-dev-string": _dev_string})


def _opt(typ: str, **extra: Any) -> Schema:
    return {"type": typ, "optional": 1, **extra}


# Options shared by the root file system and mount points.
_COMMON: Format = {
    "volume": {"type": "string", "default_key": 1, "format": "pve-lxc-mp-string"},
    "size": _opt("string", format="disk-size"),
    "acl": _opt("boolean"),
    "quota": _opt("boolean"),
    "ro": _opt("boolean"),
    "replicate": _opt("boolean", default=1),
    "shared": _opt("boolean", default=0),
    "mountoptions": _opt("string", pattern=MOUNT_OPTIONS),
}
ROOTFS: Format = dict(_COMMON)
MP: Format = {
    **_COMMON,
    "mp": {"type": "string", "format": "pve-lxc-mp-string"},
    "backup": _opt("boolean"),
    "keepattrs": _opt("boolean", default=0),
}
UNUSED: Format = {"volume": {"type": "string", "default_key": 1, "format": "pve-volume-id"}}
DEV: Format = {
    "path": _opt("string", default_key=1, format="pve-lxc-dev-string"),
    "mode": _opt("string", pattern="0[0-7]{3}"),
    "uid": _opt("integer", minimum=0),
    "gid": _opt("integer", minimum=0),
    "deny-write": _opt("boolean", default=0),
}

MP_KEYS: dict[str, Schema] = {
    "rootfs": _opt("string", format=ROOTFS),
    "mp[n]": _opt("string", format=MP, **{"x-index-max": MP_MAX}),
    "unused[n]": _opt("string", format=UNUSED, **{"x-index-max": UNUSED_MAX}),
    "dev[n]": _opt("string", format=DEV, **{"x-index-max": DEV_MAX}),
}

MP_KEY_RE = re.compile(r"^mp(\d+)\Z")


def volume_kind(volume: str) -> MpKind:
    """What a mount point's ``volume`` names (see the module docstring)."""
    if volume.startswith("/dev/"):
        return "device"
    if volume.startswith("/"):
        return "bind"
    if ALLOC_RE.match(volume):
        return "alloc"
    return "volume"


@dataclass(frozen=True)
class MountPoint:
    """One parsed ``rootfs``/``mpN`` entry; ``path`` is the target inside the container
    (``/`` for the root file system) and ``opts`` the whole parsed property string."""

    key: str
    volume: str
    path: str
    kind: MpKind
    opts: Mapping[str, Any]

    @property
    def readonly(self) -> bool:
        return bool(self.opts.get("ro"))


def parse_mountpoint(key: str, value: str) -> MountPoint:
    """Parse ``rootfs`` or ``mpN``; ValueError naming the key."""
    fmt = ROOTFS if key == "rootfs" else MP
    if key != "rootfs" and not MP_KEY_RE.match(key):
        raise ValueError(f"{key}: not a mount point key")
    try:
        opts = propstr.parse(fmt, value)
        path = "/" if key == "rootfs" else check_path(str(opts["mp"]), "mount path")
    except ValueError as err:
        raise ValueError(f"{key}: {err}") from err
    volume = str(opts["volume"])
    kind = volume_kind(volume)
    if path == "/" and key != "rootfs":
        raise ValueError(f"{key}: a mount point may not be mounted at '/'")
    return MountPoint(key, volume, path, kind, opts)


def _mp_index(key: str) -> int:
    m = MP_KEY_RE.match(key)
    return int(m.group(1)) if m else -1


def mountpoints(conf: Mapping[str, str]) -> list[MountPoint]:
    """``rootfs`` and every ``mpN`` of ``conf`` in mount order: the root first, then by
    target depth so that a parent directory is mounted before what lies inside it."""
    out: list[MountPoint] = []
    if "rootfs" in conf:
        out.append(parse_mountpoint("rootfs", conf["rootfs"]))
    mps = [
        parse_mountpoint(k, v)
        for k, v in conf.items()
        if MP_KEY_RE.match(k) and _mp_index(k) <= MP_MAX
    ]
    mps.sort(key=lambda m: (m.path.rstrip("/").count("/"), m.path, _mp_index(m.key)))
    return out + mps
