"""Volume ids (``storage:volname``): splitting, safety checks and dir-layout parsing.

Every path a file-based storage plugin touches is derived from a volname parsed here,
so this is where traversal is stopped: absolute names, ``.``/``..``/empty components,
backslashes, NUL and other control characters are refused before any regex runs.
``parse_volname`` then recognises the upstream naming of the dir layout (images with
linked clones, iso, vztmpl, backup, snippets, import, rootdir) and returns a
``Volume`` with the same facts upstream's ``parse_volname`` yields.  Errors are
``ParamError`` keyed by the parameter the caller names (``volume`` by default).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from pyxis.errors import ParamError
from pyxis.schema.formats import STORAGE_ID_RE

VTYPES = ("images", "rootdir", "iso", "vztmpl", "backup", "snippets", "import")
IMAGE_FORMATS = ("raw", "qcow2", "vmdk", "subvol")
MAX_VOLUMES_PER_GUEST = 1024

# File names: no leading dot (hides '.', '..' and dot files), no separators.
_NAME = r"[A-Za-z0-9_+=\-][A-Za-z0-9_.+=\- ]*"
_VMID = r"[1-9][0-9]*"
IMAGE_NAME_RE = re.compile(
    rf"^(?P<name>(?P<base>base-)?[A-Za-z0-9_+=\-][A-Za-z0-9_.+=\-]*"
    rf"\.(?P<fmt>{'|'.join(IMAGE_FORMATS)}))$"
)
IMAGE_RE = re.compile(rf"^(?P<vmid>{_VMID})/(?P<name>[^/]+)$")
LINKED_RE = re.compile(
    rf"^(?P<basevmid>{_VMID})/(?P<basename>[^/]+)/(?P<vmid>{_VMID})/(?P<name>[^/]+)$"
)
ISO_RE = re.compile(rf"^iso/(?P<name>{_NAME}\.(?:iso|img))$", re.IGNORECASE)
VZTMPL_RE = re.compile(rf"^vztmpl/(?P<name>{_NAME}\.tar\.(?P<comp>gz|xz|zst|bz2))$")
BACKUP_RE = re.compile(rf"^backup/(?P<name>{_NAME}\.(?:tgz|(?:tar|vma)(?:\.(?:gz|lzo|zst))?))$")
BACKUP_OWNER_RE = re.compile(r"^vzdump-(?:openvz|lxc|qemu)-(?P<vmid>[1-9][0-9]*)-.+")
SNIPPET_RE = re.compile(rf"^snippets/(?P<name>{_NAME})$")
OVA_MEMBER_RE = re.compile(
    rf"^import/(?P<name>{_NAME}\.ova/[A-Za-z0-9_+=\-][A-Za-z0-9_.+=\-]*\.(?P<fmt>qcow2|raw|vmdk))$"
)
IMPORT_RE = re.compile(rf"^import/(?P<name>{_NAME}\.(?P<fmt>ova|ovf|qcow2|raw|vmdk))$")
ROOTDIR_RE = re.compile(rf"^rootdir/(?P<vmid>{_VMID})$")
UPLOAD_EXT = {
    "iso": (".iso", ".img"),
    "vztmpl": (".tar.gz", ".tar.xz", ".tar.zst"),
    "import": (".ova", ".ovf", ".qcow2", ".raw", ".vmdk"),
}
# Uploaded names are stricter than what we list: no spaces, nothing shell-unfriendly.
UPLOAD_NAME_RE = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]*\Z")
BACKUP_EXT_RE = re.compile(r"\.(tgz|(?:tar|vma)(?:\.(?:gz|lzo|zst))?)$")
BACKUP_TIME_RE = re.compile(r"-(\d{4}_\d{2}_\d{2}-\d{2}_\d{2}_\d{2})\.")
BACKUP_VMID_RE = re.compile(r"-([1-9][0-9]{2,8})-[^/]+$")
BACKUP_TYPE_RE = re.compile(r"^vzdump-(qemu|lxc|openvz)-")
DISK_NAME_RE = re.compile(r"^(?:vm|base|subvol|basevol)-(?P<vmid>\d+)-disk-(?P<n>\d+)(?:\.\w+)?\Z")


@dataclass(frozen=True)
class Volume:
    """Facts about one volname (upstream's parse_volname tuple, named)."""

    vtype: str
    name: str
    vmid: int | None = None
    basename: str | None = None
    basevmid: int | None = None
    is_base: bool = False
    format: str | None = None

    def volname(self) -> str:
        """The volname this was parsed from (dir layout)."""
        if self.vtype == "images":
            own = f"{self.vmid}/{self.name}"
            return f"{self.basevmid}/{self.basename}/{own}" if self.basename else own
        if self.vtype == "rootdir":
            return f"rootdir/{self.vmid}"
        return f"{self.vtype}/{self.name}"


def _bad(param: str, msg: str) -> ParamError:
    return ParamError.one(param, msg)


def check_safe(volname: str, param: str = "volume") -> str:
    """Refuse anything that could escape the storage directory; return ``volname``."""
    if not volname:
        raise _bad(param, "empty volume name")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in volname):
        raise _bad(param, "volume name contains control characters")
    if "\\" in volname:
        raise _bad(param, "volume name contains a backslash")
    if volname.startswith("/"):
        raise _bad(param, "volume name must not be an absolute path")
    for part in volname.split("/"):
        if part in ("", ".", ".."):
            raise _bad(param, f"invalid path component in volume name '{volname}'")
    return volname


def split_volid(volid: str, param: str = "volume") -> tuple[str, str]:
    """``storage:volname`` -> (storage, volname), both checked."""
    storeid, sep, volname = volid.partition(":")
    if not sep or not STORAGE_ID_RE.match(storeid) or not volname:
        raise _bad(param, f"unable to parse volume ID '{volid}'")
    return storeid, check_safe(volname, param)


def parse_image_name(name: str, param: str = "volume") -> tuple[str, bool]:
    """An image file name -> (format, is_base); names like ``vm-100-disk-0.qcow2``."""
    m = IMAGE_NAME_RE.match(name)
    if not m:
        raise _bad(param, f"unable to parse volume filename '{name}'")
    return m.group("fmt"), m.group("base") is not None


def parse_volname(volname: str, param: str = "volume") -> Volume:
    """Parse a dir-layout volname; raise ParamError for anything unknown or unsafe."""
    check_safe(volname, param)
    if m := LINKED_RE.match(volname):
        parse_image_name(m.group("basename"), param)
        fmt, is_base = parse_image_name(m.group("name"), param)
        return Volume(
            "images",
            m.group("name"),
            int(m.group("vmid")),
            m.group("basename"),
            int(m.group("basevmid")),
            is_base,
            fmt,
        )
    if m := IMAGE_RE.match(volname):
        fmt, is_base = parse_image_name(m.group("name"), param)
        return Volume("images", m.group("name"), int(m.group("vmid")), None, None, is_base, fmt)
    if m := ISO_RE.match(volname):
        return Volume("iso", m.group("name"), format="raw")
    if m := VZTMPL_RE.match(volname):
        return Volume("vztmpl", m.group("name"), format="raw")
    if m := ROOTDIR_RE.match(volname):
        return Volume("rootdir", m.group("vmid"), vmid=int(m.group("vmid")))
    if m := BACKUP_RE.match(volname):
        owner = BACKUP_OWNER_RE.match(m.group("name"))
        vmid = int(owner.group("vmid")) if owner else None
        return Volume("backup", m.group("name"), vmid=vmid, format="raw")
    if m := SNIPPET_RE.match(volname):
        return Volume("snippets", m.group("name"), format="raw")
    if m := OVA_MEMBER_RE.match(volname):
        return Volume("import", m.group("name"), format=f"ova+{m.group('fmt')}")
    if m := IMPORT_RE.match(volname):
        return Volume("import", m.group("name"), format=m.group("fmt"))
    raise _bad(param, f"unable to parse directory volume name '{volname}'")


def parse_volid(volid: str, param: str = "volume") -> tuple[str, Volume]:
    """``storage:volname`` -> (storage, Volume) for dir-layout storages."""
    storeid, volname = split_volid(volid, param)
    return storeid, parse_volname(volname, param)


def disk_number(name: str, vmid: int) -> int | None:
    """The ``n`` of ``vm-<vmid>-disk-<n>`` style names owned by ``vmid``; else None."""
    m = DISK_NAME_RE.match(name)
    if not m or int(m.group("vmid")) != vmid:
        return None
    return int(m.group("n"))


def free_disk_name(vmid: int, used: set[str], fmt: str | None, prefix: str = "vm") -> str:
    """Lowest unused ``<prefix>-<vmid>-disk-<n>[.fmt]`` (n < 1024, any prefix counts)."""
    taken = {n for name in used if (n := disk_number(name, vmid)) is not None}
    for n in range(MAX_VOLUMES_PER_GUEST):
        if n not in taken:
            name = f"{prefix}-{vmid}-disk-{n}"
            return f"{name}.{fmt}" if fmt else name
    raise ParamError.one("vmid", f"unable to allocate an image name for VM {vmid}")


def check_upload_name(content: str, filename: str, param: str = "filename") -> str:
    """An upload's file name: safe characters and the extension of its content type."""
    exts = UPLOAD_EXT.get(content)
    if exts is None:
        raise _bad("content", f"upload of content type '{content}' not allowed")
    if not UPLOAD_NAME_RE.match(filename) or len(filename) > 255:
        raise _bad(param, f"invalid file name '{filename}'")
    if not filename.lower().endswith(exts):
        raise _bad(
            param, f"wrong file extension for '{content}' (expected one of {', '.join(exts)})"
        )
    return filename


def list_format(vol: Volume) -> str:
    """The ``format`` a content listing shows (iso, tzst, vma.zst, snippet ...)."""
    if vol.vtype == "iso":
        return "iso"
    if vol.vtype == "vztmpl":
        return "t" + vol.name.rsplit(".", 1)[1]
    if vol.vtype == "backup":
        m = BACKUP_EXT_RE.search(vol.name)
        return m.group(1) if m else "raw"
    if vol.vtype == "snippets":
        return "snippet"
    return vol.format or "raw"


def backup_facts(name: str) -> dict[str, Any]:
    """Owner vmid, guest type and creation time encoded in a backup archive name."""
    facts: dict[str, Any] = {}
    typ = BACKUP_TYPE_RE.match(name)
    facts["subtype"] = typ.group(1) if typ else "unknown"
    owner = BACKUP_VMID_RE.search(BACKUP_EXT_RE.sub("", name) + "-x")
    if owner:
        facts["vmid"] = int(owner.group(1))
    if (t := BACKUP_TIME_RE.search(name)) is not None:
        # vzdump names carry local time, as upstream reads them.
        facts["ctime"] = int(time.mktime(time.strptime(t.group(1), "%Y_%m_%d-%H_%M_%S")))
    return facts
