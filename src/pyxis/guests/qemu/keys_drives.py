"""Config keys for VM drives: ``ide[n]``, ``sata[n]``, ``scsi[n]``, ``virtio[n]``,
``efidisk0``, ``tpmstate0`` and ``unused[n]``.

Every bus shares one base property-string format (file, media, size, cache, limits
...); each bus adds the options its controller supports (``iothread`` only on scsi and
virtio, ``ssd`` not on virtio, ``model`` only on ide, ``product``/``vendor`` only on
scsi).  The ``file`` value is a volume ID, an absolute path, ``none``/``cdrom``, or an
allocation request ``STORAGE:SIZE`` (GiB) matched by ``ALLOC_RE``.
"""

from __future__ import annotations

import re
from typing import Any

from pyxis.schema.propstr import Format

Schema = dict[str, Any]

# Highest index per bus; the order is the canonical drive order (boot, listing).
BUS_MAX = {"ide": 3, "sata": 5, "scsi": 30, "virtio": 15}
SPECIAL_DRIVES = ("efidisk0", "tpmstate0")
ALLOC_RE = re.compile(
    r"^(?:(?P<storage>[a-z][a-z0-9\-_.]*[a-z0-9]):)?(?P<size>\d+(?:\.\d+)?)\Z", re.IGNORECASE
)

DISK_FORMATS = ["raw", "qcow", "qed", "qcow2", "vmdk", "cloop"]


def _opt(typ: str, **extra: Any) -> Schema:
    return {"type": typ, "optional": 1, **extra}


def _throttle_keys() -> Format:
    """Bandwidth and IOPS limits shared by every bus."""
    out: Format = {}
    for base in ("bps", "iops"):
        for rw in ("", "_rd", "_wr"):
            out[f"{base}{rw}"] = _opt("integer")
            out[f"{base}{rw}_max_length"] = _opt("integer", minimum=1)
        if base == "iops":
            for rw in ("", "_rd", "_wr"):
                out[f"iops{rw}_max"] = _opt("integer")
        for rw in ("_rd", "_wr"):
            out[f"{base}{rw}_length"] = {"alias": f"{base}{rw}_max_length"}
    for rw in ("", "_rd", "_wr"):
        out[f"mbps{rw}"] = _opt("number")
        out[f"mbps{rw}_max"] = _opt("number")
    return out


FILE_KEY: Schema = {"type": "string", "default_key": 1, "format": "pve-volume-id-or-qm-path"}
IMPORT_FROM: Schema = _opt("string", format="pve-volume-id-or-absolute-path")
SIZE: Schema = _opt("string", format="disk-size")
WWN: Schema = _opt("string", pattern=r"(?^:^(0x)[0-9a-fA-F]{16})")

BASE_DRIVE: Format = {
    "file": FILE_KEY,
    "volume": {"alias": "file"},
    "media": _opt("string", enum=["cdrom", "disk"], default="disk"),
    "size": SIZE,
    "format": _opt("string", enum=DISK_FORMATS),
    "import-from": IMPORT_FROM,
    "cache": _opt("string", enum=["none", "writethrough", "writeback", "unsafe", "directsync"]),
    "aio": _opt("string", enum=["native", "threads", "io_uring"]),
    "discard": _opt("string", enum=["ignore", "on"]),
    "detect_zeroes": _opt("boolean"),
    "backup": _opt("boolean"),
    "replicate": _opt("boolean", default=1),
    "shared": _opt("boolean", default=0),
    "snapshot": _opt("boolean"),
    "serial": _opt("string", format="urlencoded", maxLength=60),
    "werror": _opt("string", enum=["enospc", "ignore", "report", "stop"]),
    "rerror": _opt("string", enum=["ignore", "report", "stop"]),
    **_throttle_keys(),
}

BUS_EXTRA: dict[str, Format] = {
    "ide": {
        "model": _opt("string", format="urlencoded", maxLength=120),
        "ssd": _opt("boolean"),
        "wwn": WWN,
    },
    "sata": {"ssd": _opt("boolean"), "wwn": WWN},
    "scsi": {
        "iothread": _opt("boolean"),
        "product": _opt("string", pattern=r"[A-Za-z0-9\-_\s]{,16}"),
        "vendor": _opt("string", pattern=r"[A-Za-z0-9\-_\s]{,8}"),
        "queues": _opt("integer", minimum=2),
        "ro": _opt("boolean"),
        "scsiblock": _opt("boolean", default=0),
        "ssd": _opt("boolean"),
        "wwn": WWN,
    },
    "virtio": {"iothread": _opt("boolean"), "ro": _opt("boolean")},
}

BUS_FORMATS: dict[str, Format] = {bus: {**BASE_DRIVE, **BUS_EXTRA[bus]} for bus in BUS_MAX}

EFIDISK: Format = {
    "file": FILE_KEY,
    "volume": {"alias": "file"},
    "size": SIZE,
    "format": _opt("string", enum=DISK_FORMATS),
    "import-from": IMPORT_FROM,
    "efitype": _opt("string", enum=["2m", "4m"], default="2m"),
    "pre-enrolled-keys": _opt("boolean", default=0),
    "ms-cert": _opt("string", enum=["2011", "2023", "2023w", "2023k"], default="2011"),
}

TPMSTATE: Format = {
    "file": FILE_KEY,
    "volume": {"alias": "file"},
    "size": SIZE,
    "format": _opt("string", enum=["raw", "qcow2", "vmdk"]),
    "import-from": IMPORT_FROM,
    "version": _opt("string", enum=["v1.2", "v2.0"], default="v1.2"),
}

UNUSED: Format = {
    "file": {"type": "string", "default_key": 1, "format": "pve-volume-id"},
    "volume": {"alias": "file"},
}


def _family(fmt: Format, index_max: int) -> Schema:
    return {"type": "string", "optional": 1, "format": fmt, "x-index-max": index_max}


DRIVE_KEYS: dict[str, Schema] = {
    **{f"{bus}[n]": _family(BUS_FORMATS[bus], top) for bus, top in BUS_MAX.items()},
    "efidisk0": {"type": "string", "optional": 1, "format": EFIDISK},
    "tpmstate0": {"type": "string", "optional": 1, "format": TPMSTATE},
    "unused[n]": _family(UNUSED, 255),
}

DRIVE_NAMES: tuple[str, ...] = (
    *(f"{bus}{i}" for bus, top in BUS_MAX.items() for i in range(top + 1)),
    *SPECIAL_DRIVES,
)
_DRIVE_SET = frozenset(DRIVE_NAMES)


def is_drive_key(key: str) -> bool:
    """True for ``ide0``..``virtio15``, ``efidisk0`` and ``tpmstate0`` (not ``unused``)."""
    return key in _DRIVE_SET


def drive_format(key: str) -> Format:
    """The property-string format for drive ``key``; ValueError for other keys."""
    if not is_drive_key(key):
        raise ValueError(f"invalid drive key '{key}'")
    if key == "efidisk0":
        return EFIDISK
    if key == "tpmstate0":
        return TPMSTATE
    return BUS_FORMATS[key.rstrip("0123456789")]
