"""The VM config key registry and typed access to config values.

``VM_KEYS`` declares every key of ``qemu-server/<vmid>.conf`` in the upstream schema
dialect (indexed families as ``net[n]`` with ``x-index-max``); the declarations live
in ``keys_hw``, ``keys_drives``, ``keys_net`` and ``keys_misc``.  Config values stay
strings in the file model; ``parse_value`` turns one into a dict (property strings)
or a typed scalar and ``print_value`` turns it back.  Helpers answer the questions
the rest of the platform asks about drives, NICs and the boot order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from pyxis.guests.qemu.keys_drives import (
    ALLOC_RE,
    BUS_MAX,
    DRIVE_KEYS,
    DRIVE_NAMES,
    drive_format,
    is_drive_key,
)
from pyxis.guests.qemu.keys_hw import HW_KEYS
from pyxis.guests.qemu.keys_hw import NAMED_FORMATS as HW_FORMATS
from pyxis.guests.qemu.keys_misc import INTERNAL_KEYS, MISC_KEYS
from pyxis.guests.qemu.keys_net import NAMED_FORMATS as NET_FORMATS
from pyxis.guests.qemu.keys_net import NET, NET_KEYS, NET_MAX, mac_generate
from pyxis.schema import formats, propstr
from pyxis.schema.propstr import Format
from pyxis.schema.scalars import check_scalar
from pyxis.schema.validate import family_schema

__all__ = [
    "ALLOC_RE",
    "NAMED_FORMATS",
    "VM_KEYS",
    "drive_keys",
    "is_cdrom",
    "is_drive_key",
    "key_schema",
    "mac_generate",
    "parse_boot_order",
    "parse_drive",
    "parse_net",
    "parse_value",
    "print_value",
    "propstr_format",
]

Schema = dict[str, Any]

VM_KEYS: dict[str, Schema] = {
    **HW_KEYS,
    **DRIVE_KEYS,
    **NET_KEYS,
    **MISC_KEYS,
    **INTERNAL_KEYS,
}
NAMED_FORMATS: dict[str, Format] = {**HW_FORMATS, **NET_FORMATS}

BOOTDEV_RE = re.compile(r"^(?:net|hostpci|usb)(\d+)\Z")
NET_KEY_RE = re.compile(r"^net(\d+)\Z")


def _propstr_check(fmt: Format) -> Callable[[str], str]:
    def check(value: str) -> str:
        propstr.parse(fmt, value)
        return value

    return check


def _bootdev(value: str) -> str:
    m = BOOTDEV_RE.match(value)
    if is_drive_key(value) or (m and str(int(m.group(1))) == m.group(1)):
        return value
    raise ValueError(f"invalid boot device '{value}'")


def _bootdev_list(value: str) -> str:
    # kept as given (';'-separated inside property strings)
    for item in re.split(r"[,;\s]+", value):
        if item:
            _bootdev(item)
    return value


def _bootdisk(value: str) -> str:
    if not is_drive_key(value) or value in ("efidisk0", "tpmstate0"):
        raise ValueError(f"invalid boot disk '{value}'")
    return value


_NAMED_CHECKS: dict[str, Callable[[str], str]] = {
    **{name: _propstr_check(fmt) for name, fmt in NAMED_FORMATS.items()},
    "pve-qm-bootdev": _bootdev,
    "pve-qm-bootdev-list": _bootdev_list,
    "pve-qm-bootdisk": _bootdisk,
}
for _name, _fn in _NAMED_CHECKS.items():
    if _name not in formats.known():
        formats.register(_name)(_fn)


def key_schema(key: str) -> Schema | None:
    """The schema for ``key`` (``net3`` resolves to ``net[n]``), or None if unknown."""
    return family_schema(VM_KEYS, key)


def propstr_format(schema: Schema) -> Format | None:
    """The property-string format of a key schema (inline or named), else None."""
    fmt = schema.get("format")
    if isinstance(fmt, dict):
        return fmt
    if isinstance(fmt, str):
        return NAMED_FORMATS.get(fmt)
    return None


def _schema(key: str) -> Schema:
    schema = key_schema(key)
    if schema is None:
        raise ValueError(f"{key}: unknown configuration key")
    return schema


def parse_value(key: str, value: str) -> Any:
    """Typed value of config ``key``: a dict for property strings, else int/float/str.

    String values come back as given (list formats are not rewritten); every value is
    validated against the key's schema.  Raises ValueError naming the key.
    """
    schema = _schema(key)
    # only the description (written as comment lines) may span lines
    if key != "description" and ("\n" in value or "\r" in value):
        raise ValueError(f"{key}: value may not contain line breaks")
    try:
        checked = check_scalar(schema, value, lenient_bool=True)
        fmt = propstr_format(schema)
        if fmt is not None:
            return propstr.parse(fmt, value)
    except ValueError as err:
        raise ValueError(f"{key}: {err}") from err
    return value if schema.get("type", "string") == "string" else checked


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def print_value(key: str, data: Any) -> str:
    """The config-file text for ``key``: dicts are printed as property strings (default
    key first, then sorted keys); the result is validated as ``parse_value`` does."""
    schema = _schema(key)
    fmt = propstr_format(schema)
    if fmt is not None and isinstance(data, dict):
        try:
            text = propstr.render(fmt, data)
        except ValueError as err:
            raise ValueError(f"{key}: {err}") from err
    else:
        text = _scalar_text(data)
    parse_value(key, text)
    return text


def drive_keys(conf: Mapping[str, Any]) -> list[str]:
    """Drive keys present in ``conf``, in canonical order (ide, sata, scsi, virtio,
    efidisk0, tpmstate0; by index)."""
    return [k for k in DRIVE_NAMES if k in conf]


def is_cdrom(drive: Mapping[str, Any]) -> bool:
    """True for a parsed drive with ``media=cdrom``."""
    return drive.get("media") == "cdrom"


def parse_drive(key: str, value: str) -> dict[str, Any]:
    """Parse drive ``key`` (``scsi0``, ``efidisk0`` ...); ValueError naming the key."""
    try:
        return propstr.parse(drive_format(key), value)
    except ValueError as err:
        raise ValueError(f"{key}: {err}") from err


def parse_net(value: str) -> dict[str, Any]:
    """Parse a ``net[n]`` value; ``model`` and, if given, ``macaddr`` are set."""
    return propstr.parse(NET, value)


def _bus_drives(conf: Mapping[str, str]) -> list[tuple[str, dict[str, Any]]]:
    keys = [k for k in drive_keys(conf) if k.rstrip("0123456789") in BUS_MAX]
    return [(k, parse_drive(k, conf[k])) for k in keys]


def _index(key: str) -> int:
    return int(key[len(key.rstrip("0123456789")) :])


def parse_boot_order(conf: Mapping[str, str]) -> list[str]:
    """Boot devices of ``conf`` in order.

    ``boot: order=scsi0;ide2;net0`` is taken as written.  The legacy form (``boot:
    cdn``, also the default when ``boot`` is absent) expands ``c`` to ``bootdisk`` (or
    the first non-cdrom drive), ``d`` to the first cdrom drive and ``n`` to every NIC.
    """
    raw = conf.get("boot")
    parsed: dict[str, Any] = parse_value("boot", raw) if raw else {}
    if "order" in parsed:
        return [dev for dev in re.split(r"[,;\s]+", parsed["order"]) if dev]
    drives = _bus_drives(conf)
    nets = sorted((k for k in conf if NET_KEY_RE.match(k) and _index(k) <= NET_MAX), key=_index)
    out: list[str] = []
    for letter in parsed.get("legacy", "cdn"):
        found: list[str] = []
        if letter == "c":
            bootdisk = conf.get("bootdisk")
            disks = [k for k, d in drives if not is_cdrom(d)]
            if bootdisk in disks:
                found = [str(bootdisk)]
            elif disks:
                found = disks[:1]
        elif letter == "d":
            found = [k for k, d in drives if is_cdrom(d)][:1]
        elif letter == "n":
            found = nets
        out.extend(dev for dev in found if dev not in out)
    return out
