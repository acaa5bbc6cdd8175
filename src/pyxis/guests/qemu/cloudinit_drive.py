"""The cloud-init drive: its volume, the ISO image in it, and when it is rebuilt.

A config value ``ide2: local:cloudinit`` asks for the drive: on create/update the
volume ``vm-<vmid>-cloudinit`` is allocated on that storage (``<vmid>/vm-<vmid>-
cloudinit.qcow2`` on storages with a path, as upstream; raw elsewhere) and the value becomes
``local:<vmid>/vm-<vmid>-cloudinit.qcow2,media=cdrom``.  At every start (and on ``PUT
.../cloudinit``) the data is generated (``cloudinit.generate``), put into an ISO 9660
image with Rock Ridge and Joliet names (pycdlib, no external tool; volume label
``cidata`` for NoCloud, ``config-2`` for config-drive), and the image replaces the
volume's content (atomically, by rename: a running QEMU keeps reading the old file
until its medium is changed).  What was generated is recorded in the config's
``[special:cloudinit]`` section, against which ``GET .../cloudinit`` shows pending
changes.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pycdlib

from pyxis.errors import Conflict, ParamError, PermissionDenied, PyxisError
from pyxis.guests.qemu import cloudinit
from pyxis.guests.qemu.config import VmConfig
from pyxis.guests.qemu.drives import CLOUDINIT_RE
from pyxis.guests.qemu.keys import drive_keys, parse_drive, parse_value, print_value
from pyxis.storage.volid import parse_volname, split_volid
from pyxis.util.run import run

if TYPE_CHECKING:
    from pyxis.guests.orchestrator import Rollback
    from pyxis.guests.qemu.disks import DrivePlan
    from pyxis.guests.qemu.service import QemuService
    from pyxis.services import Services
    from pyxis.tasks.manager import TaskLog

ALLOC_RE = re.compile(r"^(?P<storage>[a-z][a-z0-9\-_.]*[a-z0-9]):cloudinit\Z", re.IGNORECASE)
SIZE_KIB = 4096
LABELS = {"nocloud": "cidata", "configdrive2": "config-2"}
SPECIAL = "cloudinit"
MASK = "**********"


def is_alloc_request(file: str) -> bool:
    """``STORAGE:cloudinit``: a cloud-init drive to be allocated."""
    return ALLOC_RE.match(file) is not None


def is_cloudinit_volume(file: str) -> bool:
    return CLOUDINIT_RE.search(file) is not None and not is_alloc_request(file)


def drive_key(conf: Mapping[str, str]) -> str | None:
    """The key of the VM's cloud-init drive, if it has one."""
    for key in drive_keys(conf):
        try:
            file = str(parse_drive(key, conf[key]).get("file", ""))
        except ValueError:
            continue
        if is_cloudinit_volume(file):
            return key
    return None


# -- allocation (create/update) ------------------------------------------------------


async def check_alloc(
    svc: Services, authid: str, vmid: int, key: str, drive: dict[str, Any]
) -> DrivePlan:
    """Validate ``key: STORAGE:cloudinit`` before anything is written."""
    from pyxis.guests.qemu.disks import DrivePlan

    m = ALLOC_RE.match(str(drive["file"]))
    assert m is not None
    sid = m.group("storage")
    try:
        section = svc.storage.section(sid)
    except Exception as err:
        raise ParamError.one(key, f"storage '{sid}' does not exist") from err
    if "images" not in (section.get("content") or set()):
        raise ParamError.one(key, f"storage '{sid}' does not support content type 'images'")
    if not svc.access.check(authid, f"/storage/{sid}", ["Datastore.AllocateSpace"]):
        raise PermissionDenied(f"Permission check failed (/storage/{sid}, Datastore.AllocateSpace)")
    return DrivePlan(key, drive, alloc_storage=sid, cloudinit=True)


async def realize(
    svc: Services, vmid: int, plan: DrivePlan, rollback: Rollback, log: Any = None
) -> str:
    """Allocate ``vm-<vmid>-cloudinit`` and return the drive value to store."""
    assert plan.alloc_storage is not None
    sid = plan.alloc_storage
    plugin = await svc.storage.plugin(sid)
    drive = dict(plan.drive)
    # as upstream: qcow2 on storages with a path, raw on block storages
    default = "qcow2" if svc.storage.section(sid).get("path") else "raw"
    fmt = str(drive.pop("format", None) or default)
    name = f"vm-{vmid}-cloudinit.{fmt}"
    volid = f"{sid}:{vmid}/{name}"
    existing = {str(v["volid"]) for v in await plugin.list_volumes({"images"}, vmid)}
    if volid not in existing:
        volname = await plugin.alloc_image(vmid, fmt, name, SIZE_KIB)
        rollback.add(f"free {sid}:{volname}", lambda: plugin.free_image(volname))
        volid = f"{sid}:{volname}"
        if log:
            log.log(f"allocated cloud-init drive {volid}")
    drive["file"] = volid
    drive["media"] = "cdrom"
    drive.pop("size", None)
    return print_value(plan.key, drive)


# -- ISO image -----------------------------------------------------------------------


def _iso_name(name: str, is_dir: bool) -> str:
    """An ISO 9660 (level 3) identifier for ``name``; Rock Ridge keeps the real one."""
    stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
    clean = re.sub(r"[^A-Z0-9_]", "_", stem.upper())[:30]
    if is_dir:
        return clean
    ext_clean = re.sub(r"[^A-Z0-9_]", "_", ext.upper()) if dot else ""
    return f"{clean}.{ext_clean};1"


def build_iso(label: str, files: Mapping[str, str]) -> bytes:
    """An ISO image with volume label ``label`` holding ``files`` (path -> text)."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=label)
    made: dict[str, str] = {"": ""}
    try:
        for path in sorted(files):
            parts = path.split("/")
            for depth in range(1, len(parts)):
                rel = "/".join(parts[:depth])
                if rel not in made:
                    iso_path = (
                        f"{made['/'.join(parts[: depth - 1])]}/{_iso_name(parts[depth - 1], True)}"
                    )
                    iso.add_directory(iso_path, rr_name=parts[depth - 1], joliet_path=f"/{rel}")
                    made[rel] = iso_path
            parent = made["/".join(parts[:-1])]
            data = files[path].encode()
            iso.add_fp(
                io.BytesIO(data),
                len(data),
                f"{parent}/{_iso_name(parts[-1], False)}",
                rr_name=parts[-1],
                joliet_path=f"/{path}",
            )
        out = io.BytesIO()
        iso.write_fp(out)
        return out.getvalue()
    finally:
        iso.close()


# -- generation ----------------------------------------------------------------------


async def _custom_parts(svc: Services, conf: Mapping[str, str]) -> dict[str, str]:
    """The ``cicustom`` snippets' contents, by part (user, network, meta, vendor)."""
    raw = conf.get("cicustom")
    if not raw:
        return {}
    out: dict[str, str] = {}
    for part, volid in parse_value("cicustom", raw).items():
        sid, volname = split_volid(str(volid), "cicustom")
        if parse_volname(volname, "cicustom").vtype != "snippets":
            raise PyxisError(f"cicustom: {part} volume '{volid}' is not a snippet")
        plugin = await svc.storage.plugin(sid)
        try:
            out[part] = Path(plugin.path(volname)).read_text()
        except OSError as err:
            raise PyxisError(f"cicustom: cannot read '{volid}': {err.strerror}") from err
    return out


async def generate(svc: Services, vmid: int, conf: Mapping[str, str]) -> cloudinit.CloudInitData:
    try:
        return cloudinit.generate(vmid, conf, await _custom_parts(svc, conf))
    except ValueError as err:
        raise PyxisError(f"cloud-init: {err}") from err


async def write_volume(svc: Services, volid: str, image: bytes) -> str:
    """Replace the content of volume ``volid`` with ``image``; return its path."""
    sid, volname = split_volid(volid)
    plugin = await svc.storage.plugin(sid)
    path = Path(plugin.path(volname))
    fmt = parse_volname(volname).format or "raw"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        if fmt == "raw":
            with os.fdopen(fd, "wb") as fh:
                fh.write(image)
        else:
            os.close(fd)
            with tempfile.NamedTemporaryFile(suffix=".iso", dir=path.parent) as src:
                src.write(image)
                src.flush()
                await run(["qemu-img", "convert", "-f", "raw", "-O", fmt, src.name, tmp])
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return str(path)


def snapshot(conf: Mapping[str, str]) -> dict[str, str]:
    """The cloud-init relevant values a generation used (``[special:cloudinit]``)."""
    return {k: v for k, v in conf.items() if cloudinit.is_ci_key(k)}


async def regenerate(qemu: QemuService, vmid: int, cfg: VmConfig) -> str | None:
    """Rebuild the drive of ``cfg`` (if any) and record it; return the drive key."""
    key = drive_key(cfg.main)
    if key is None:
        return None
    data = await generate(qemu.svc, vmid, cfg.main)
    image = build_iso(LABELS[data.citype], data.files)
    volid = str(parse_drive(key, cfg.main[key])["file"])
    await write_volume(qemu.svc, volid, image)
    snap = snapshot(cfg.main)
    if snap:
        cfg.special[SPECIAL] = snap
    else:
        cfg.special.pop(SPECIAL, None)
    return key


async def prepare_start(qemu: QemuService, vmid: int, tlog: TaskLog) -> None:
    """Launch hook: regenerate the drive before the VM starts."""
    cfg, dig = qemu.load(vmid)
    before = dict(cfg.special.get(SPECIAL, {}))
    key = await regenerate(qemu, vmid, cfg)
    if key is None:
        return
    tlog.log(f"generated cloud-init data on {key}")
    if cfg.special.get(SPECIAL, {}) != before:
        await qemu.save(vmid, cfg, dig)


def pending(cfg: VmConfig) -> list[dict[str, Any]]:
    """``GET .../cloudinit``: each cloud-init key with its generated and current value."""
    done = cfg.special.get(SPECIAL, {})
    current = snapshot(cfg.main)
    out: list[dict[str, Any]] = []
    for key in sorted(set(done) | set(current)):
        old, new = done.get(key), current.get(key)
        if key == "cipassword":
            old = MASK if old is not None else None
            new = MASK if new is not None else None
        if new is None:
            out.append({"key": key, "delete": 1})
        elif old is None:
            out.append({"key": key, "pending": new})
        elif done.get(key) != current.get(key):
            out.append({"key": key, "value": old, "pending": new})
        else:
            out.append({"key": key, "value": new})
    return out


async def update_now(qemu: QemuService, vmid: int) -> None:
    """``PUT .../cloudinit``: rebuild the drive now; a running VM gets the new medium."""
    async with qemu.guests.lock(vmid):
        cfg, dig = qemu.load(vmid)
        key = await regenerate(qemu, vmid, cfg)
        if key is None:
            raise Conflict(f"VM {vmid} has no cloud-init drive")
        await qemu.save(vmid, cfg, dig)
        if qemu.pid(vmid) is not None:
            await _change_medium(qemu, vmid, key, str(parse_drive(key, cfg.main[key])["file"]))


async def _change_medium(qemu: QemuService, vmid: int, key: str, volid: str) -> None:
    from pyxis.guests.qemu.qmp import Monitor, MonitorError

    sid, volname = split_volid(volid)
    plugin = await qemu.svc.storage.plugin(sid)
    args = {
        "id": key,
        "filename": plugin.path(volname),
        "format": parse_volname(volname).format or "raw",
        "read-only-mode": "read-only",
        "force": True,
    }
    async with Monitor(qemu.run_paths(vmid).qmp) as mon:
        await mon.execute("blockdev-change-medium", args)
        # the start-time nodes are no longer attached: drop them
        for node in (f"drive-{key}", f"drive-{key}-file"):
            with contextlib.suppress(MonitorError):
                await mon.blockdev_del(node)


def volume_of(key: str, value: str) -> str | None:
    """The cloud-init volume a drive value names (None for any other drive)."""
    try:
        file = str(parse_drive(key, value).get("file", ""))
    except ValueError:
        return None
    return file if ":" in file and is_cloudinit_volume(file) else None
