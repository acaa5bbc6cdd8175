"""``/nodes/{node}/storage``: storage status and volumes on one node.

Allocating, listing, inspecting, deleting and uploading volumes.  Deletion and upload
run as tasks and answer with a UPID, as upstream.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from typing import Any

from pyxis.api.common import (
    ALL_USERS,
    BOOL,
    INT,
    NODE,
    NUM,
    STORAGE_ID,
    STR,
    VMID,
    VMID_OPT,
    array_of,
    obj,
    opt,
    perm,
    subdirs,
)
from pyxis.api.context import Call
from pyxis.errors import Conflict, ParamError, PyxisError
from pyxis.schema.registry import method
from pyxis.storage.service import split_volume_param
from pyxis.storage.volid import UPLOAD_EXT, UPLOAD_NAME_RE, parse_volname
from pyxis.tasks.manager import TaskLog

FORMATS_ENUM = ["qcow2", "raw", "subvol", "vmdk"]
SPACE_OR_AUDIT = perm(
    "/storage/{storage}", ["Datastore.Audit", "Datastore.AllocateSpace"], any_=True
)
STATUS_PROPS = dict(
    type=STR,
    content={"type": "string", "format": "pve-storage-content-list"},
    active=opt(BOOL),
    enabled=opt(BOOL),
    shared=opt(BOOL),
    total=opt(INT),
    used=opt(INT),
    avail=opt(INT),
)
SIZE_RE = re.compile(r"^(\d+)([MG]?)\Z")
CHUNK_HASH = 1 << 20


async def _status_of(call: Call, sid: str, section: dict[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = {
        "storage": sid,
        "type": section["type"],
        "content": ",".join(sorted(section.get("content") or [])),
        "shared": int(bool(section.get("shared"))),
        "enabled": int(not section.get("disable")),
        "active": 0,
    }
    if section.get("disable"):
        return info
    try:
        plugin = await call.svc.storage.plugin(sid)
        st = await plugin.status()
    except PyxisError as err:
        info["error"] = err.message
        return info
    info.update(
        active=int(bool(st.get("active", 1))), total=st["total"], used=st["used"], avail=st["avail"]
    )
    info["used_fraction"] = round(st["used"] / st["total"], 6) if st["total"] else 0
    return info


@method(
    "GET",
    "/nodes/{node}/storage",
    name="index",
    permissions=ALL_USERS,
    protected=True,
    proxyto="node",
    parameters={
        "node": NODE,
        "storage": opt(STORAGE_ID),
        "content": opt(STR, format="pve-storage-content-list"),
        "enabled": opt(BOOL, default=0),
        "format": opt(BOOL, default=0),
        "target": opt(NODE),
    },
    returns=array_of(
        obj(
            storage=STORAGE_ID,
            **STATUS_PROPS,
            used_fraction=opt(NUM),
            select_existing=opt(BOOL),
            formats=opt({"type": "object"}),
        )
    ),
)
async def list_node_storage(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Storages available on this node with their usage."""
    cfg = call.svc.storage.config()
    want = set(p["content"].split(",")) if p.get("content") else None
    out = []
    for sid in cfg.order:
        section = cfg.ids[sid]
        if "storage" in p and sid != p["storage"]:
            continue
        if not call.svc.storage.enabled_here(section) and not section.get("disable"):
            continue
        if p.get("enabled") and section.get("disable"):
            continue
        if want and not want & set(section.get("content") or []):
            continue
        if not call.svc.access.check(
            call.authid,
            f"/storage/{sid}",
            ["Datastore.Audit", "Datastore.AllocateSpace"],
            any_=True,
        ):
            continue
        info = await _status_of(call, sid, section)
        if p.get("format"):
            cls = call.svc.storage.instance(sid)
            info["formats"] = {"default": cls.default_format(), "supported": sorted(cls.formats[0])}
        out.append(info)
    return out


@method(
    "GET",
    "/nodes/{node}/storage/{storage}",
    name="diridx",
    permissions=SPACE_OR_AUDIT,
    parameters={"node": NODE, "storage": STORAGE_ID},
    returns=array_of(obj(subdir=STR)),
)
async def storage_index(call: Call, p: dict[str, Any]) -> list[dict[str, str]]:
    """Directory index of one storage."""
    call.svc.storage.section(p["storage"])
    return subdirs("content", "status", "upload")


@method(
    "GET",
    "/nodes/{node}/storage/{storage}/status",
    name="read_status",
    permissions=SPACE_OR_AUDIT,
    protected=True,
    proxyto="node",
    parameters={"node": NODE, "storage": STORAGE_ID},
    returns=obj(**STATUS_PROPS),
)
async def storage_status(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Usage and state of one storage on this node."""
    sid = p["storage"]
    section = call.svc.storage.section(sid)
    if not call.svc.storage.enabled_here(section):
        # as upstream: a storage restricted to other nodes reads as not enabled, inactive
        section = {**section, "disable": 1}
    info = await _status_of(call, sid, section)
    if "error" in info:
        raise PyxisError(info["error"])
    info.pop("storage")
    return info


CONTENT_ITEM = obj(
    volid=STR,
    format=STR,
    size=INT,
    used=opt(INT),
    vmid=opt(INT),
    ctime=opt(INT, minimum=0),
    parent=opt(STR),
    notes=opt(STR),
    protected=opt(BOOL),
    encrypted=opt(STR),
    verification=opt(obj(state=STR, upid=STR)),
)


@method(
    "GET",
    "/nodes/{node}/storage/{storage}/content",
    name="index",
    permissions=SPACE_OR_AUDIT,
    protected=True,
    proxyto="node",
    parameters={
        "node": NODE,
        "storage": STORAGE_ID,
        "content": opt(STR, format="pve-storage-content"),
        "vmid": VMID_OPT,
    },
    returns=array_of(CONTENT_ITEM),
)
async def list_content(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Volumes on a storage, optionally of one content type or one guest."""
    plugin = await call.svc.storage.plugin(p["storage"])
    content = {p["content"]} if "content" in p else None
    vols = await plugin.list_volumes(content, p.get("vmid"))
    audit_all = call.svc.access.check(
        call.authid, f"/storage/{p['storage']}", ["Datastore.Allocate"]
    )
    out = []
    for vol in vols:
        vmid = vol.get("vmid")
        if (
            not audit_all
            and vmid
            and vol.get("content") in ("images", "rootdir", "backup")
            and not call.svc.access.check(call.authid, f"/vms/{vmid}", ["VM.Audit"])
        ):
            continue
        out.append(vol)
    return out


@method(
    "POST",
    "/nodes/{node}/storage/{storage}/content",
    name="create",
    protected=True,
    proxyto="node",
    permissions=perm("/storage/{storage}", ["Datastore.AllocateSpace"]),
    parameters={
        "node": NODE,
        "storage": STORAGE_ID,
        "vmid": VMID,
        "filename": STR,
        "size": {"type": "string", "pattern": "\\d+[MG]?"},
        "format": opt({"type": "string", "enum": FORMATS_ENUM}, requires="size"),
    },
    returns=STR,
)
async def alloc_volume(call: Call, p: dict[str, Any]) -> str:
    """Allocate a disk image; ``size`` in KiB, or with an M/G suffix."""
    m = SIZE_RE.match(p["size"])
    if not m:
        raise ParamError.one("size", "unable to parse size")
    num, unit = int(m.group(1)), m.group(2)
    size_kib = num * {"": 1, "M": 1024, "G": 1024 * 1024}[unit]
    if size_kib <= 0:
        raise ParamError.one("size", "size must be greater than zero")
    vmid, name = int(p["vmid"]), p["filename"]
    fmt = p.get("format")
    dm = re.match(r"^(?:vm|base)-(\d+)-disk-\d+(?:\.(raw|qcow2|vmdk))?\Z", name)
    if not dm:
        raise ParamError.one(
            "filename",
            f"illegal name '{name}' - should be "
            f"'vm-{vmid}-disk-N' (optionally with a format suffix)",
        )
    if int(dm.group(1)) != vmid:
        raise ParamError.one("filename", f"illegal name '{name}' - wrong vmid")
    if dm.group(2):
        if fmt and fmt != dm.group(2):
            raise ParamError.one("format", f"format '{fmt}' does not match the file suffix")
        fmt = dm.group(2)
        name = name[: -len(dm.group(2)) - 1]
    plugin = await call.svc.storage.plugin(p["storage"])
    if "images" not in plugin.enabled_content():
        raise ParamError.one(
            "storage", f"storage '{p['storage']}' does not support content type 'images'"
        )
    if not call.svc.access.check(
        call.authid, f"/vms/{vmid}", ["VM.Config.Disk"]
    ) and not call.svc.access.check(
        call.authid, f"/storage/{p['storage']}", ["Datastore.Allocate"]
    ):
        raise PyxisError(f"Permission check failed (/vms/{vmid}, VM.Config.Disk)", status=403)
    fmt = fmt or plugin.default_format()
    fname = name if fmt == "subvol" else f"{name}.{fmt}"
    volname = await plugin.alloc_image(vmid, fmt, fname, size_kib)
    return f"{p['storage']}:{volname}"


VOLUME_PARAMS = {"node": NODE, "storage": opt(STORAGE_ID), "volume": STR}


@method(
    "GET",
    "/nodes/{node}/storage/{storage}/content/{volume}",
    name="info",
    permissions=ALL_USERS,
    protected=True,
    proxyto="node",
    parameters=VOLUME_PARAMS,
    returns=obj(path=STR, size=INT, used=INT, format=STR, notes=opt(STR), protected=opt(BOOL)),
)
async def volume_info(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Path, size, usage and format of one volume."""
    sid, volname = split_volume_param(p.get("storage"), p["volume"])
    call.svc.storage.check_volume_access(call.authid, sid, volname, write=False)
    plugin = await call.svc.storage.plugin(sid)
    size, fmt, used, _parent = await plugin.volume_size_info(volname)
    out: dict[str, Any] = {"path": plugin.path(volname), "size": size, "used": used, "format": fmt}
    attrs = getattr(plugin, "attributes", None)
    if attrs is not None:
        out.update(await attrs(volname))
    return out


@method(
    "PUT",
    "/nodes/{node}/storage/{storage}/content/{volume}",
    name="updateattributes",
    permissions=ALL_USERS,
    protected=True,
    proxyto="node",
    parameters={**VOLUME_PARAMS, "notes": opt(STR), "protected": opt(BOOL)},
)
async def volume_update(call: Call, p: dict[str, Any]) -> None:
    """Set a volume's notes or protection flag (where the storage keeps them)."""
    sid, volname = split_volume_param(p.get("storage"), p["volume"])
    call.svc.storage.check_volume_access(call.authid, sid, volname, write=True)
    plugin = await call.svc.storage.plugin(sid)
    setter = getattr(plugin, "set_attributes", None)
    if setter is None:
        raise PyxisError(f"storage type '{plugin.type}' keeps no volume attributes", status=501)
    await setter(volname, {k: p[k] for k in ("notes", "protected") if k in p})


@method(
    "DELETE",
    "/nodes/{node}/storage/{storage}/content/{volume}",
    name="delete",
    permissions=ALL_USERS,
    protected=True,
    proxyto="node",
    parameters={**VOLUME_PARAMS, "delay": opt(INT, minimum=1, maximum=30)},
    returns=opt(STR),
)
async def volume_delete(call: Call, p: dict[str, Any]) -> str:
    """Delete a volume (a task; answers with its UPID)."""
    sid, volname = split_volume_param(p.get("storage"), p["volume"])
    vol = call.svc.storage.check_volume_access(call.authid, sid, volname, write=True)
    plugin = await call.svc.storage.plugin(sid)
    volid = f"{sid}:{volname}"
    attrs = getattr(plugin, "attributes", None)
    if attrs is not None and (await attrs(volname)).get("protected"):
        raise Conflict(f"volume '{volid}' is protected")
    if vol.vtype in ("images", "rootdir") and vol.vmid is not None:
        owner = call.svc.guest_resources()
        if any(r["vmid"] == vol.vmid for r in owner):
            raise PyxisError(
                f"volume '{volid}' may be in use by VM {vol.vmid}; remove it from "
                "the guest configuration first",
                status=409,
            )
    await plugin.volume_size_info(volname)  # fails early for a missing volume

    async def work(log: TaskLog) -> None:
        log.log(f"removing volume '{volid}'")
        await plugin.free_image(volname)
        log.log("removed")

    # UPID ids cannot hold ':' or '/': the volume is named in the log instead (as upstream)
    return await call.svc.tasks.start("imgdel", "", call.authid, work)


@method(
    "POST",
    "/nodes/{node}/storage/{storage}/upload",
    name="upload",
    protected=True,
    upload=True,
    permissions=perm("/storage/{storage}", ["Datastore.AllocateTemplate"]),
    parameters={
        "node": NODE,
        "storage": STORAGE_ID,
        "content": {
            "type": "string",
            "format": "pve-storage-content",
            "enum": ["iso", "vztmpl", "import"],
        },
        "filename": {"type": "string", "maxLength": 255},
        "checksum": opt(STR, requires="checksum-algorithm"),
        "checksum-algorithm": opt(
            {
                "type": "string",
                "requires": "checksum",
                "enum": ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"],
            }
        ),
        "tmpfilename": opt(STR, pattern="/var/tmp/pveupload-[0-9a-f]+"),
    },
    returns=STR,
)
async def upload(call: Call, p: dict[str, Any]) -> str:
    """Upload an ISO, container template or import file (streamed to disk)."""
    if p.get("node") != call.svc.node:
        raise PyxisError("uploads must go to the node that holds the storage", status=400)
    if call.upload is None:
        raise ParamError.one("filename", "no file in upload")
    content, name = p["content"], os.path.basename(p["filename"])
    if not UPLOAD_NAME_RE.match(name) or not name.endswith(UPLOAD_EXT[content]):
        raise ParamError.one(
            "filename",
            f"invalid file name '{name}' for content '{content}' "
            f"(expected {'/'.join(UPLOAD_EXT[content])})",
        )
    plugin = await call.svc.storage.plugin(p["storage"])
    if content not in plugin.enabled_content():
        raise ParamError.one(
            "content", f"storage '{p['storage']}' does not allow content type '{content}'"
        )
    target = plugin.upload_path(content, name)
    parse_volname(f"{content}/{name}")
    # The server removes the temporary file once the handler returns: claim it first.
    staged = call.upload.path.with_name(call.upload.path.name + ".staged")
    os.rename(call.upload.path, staged)
    algo, expected = p.get("checksum-algorithm"), p.get("checksum")
    size = call.upload.size

    async def work(log: TaskLog) -> None:
        try:
            log.log(f"received {size} bytes as '{name}'")
            if algo and expected:
                got = await asyncio.to_thread(_file_digest, staged, algo)
                if got.lower() != expected.strip().lower():
                    raise PyxisError(f"checksum mismatch: got '{got}', expected '{expected}'")
                log.log(f"{algo} checksum verified: {got}")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(staged, 0o644)
            os.replace(staged, target)
            log.log(f"moved to '{target}'")
        finally:
            if staged.exists():
                staged.unlink()

    return await call.svc.tasks.start("imgcopy", "", call.authid, work)


def _file_digest(path: Any, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_HASH):
            h.update(chunk)
    return h.hexdigest()
