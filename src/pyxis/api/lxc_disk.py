"""Container volumes and copies: ``resize``, ``move_volume``, ``clone``, ``template``.

Each runs as a task (``resize``, ``move_volume``, ``clone`` answer with a UPID;
``template`` waits for its task, as upstream answers null).  The work is in
``pyxis.guests.lxc.disks`` and ``pyxis.guests.lxc.snapshots``.
"""

from __future__ import annotations

from typing import Any

from pyxis.api.common import BOOL, NODE, NUM, STR, VMID, opt, perm
from pyxis.api.context import Call
from pyxis.errors import ParamError, PyxisError
from pyxis.guests.lxc import disks, snapshots
from pyxis.guests.lxc.keys import MP_MAX
from pyxis.schema.registry import method
from pyxis.tasks.manager import TaskLog

BASE = {"node": NODE, "vmid": VMID}
VOLUME_KEYS = ["rootfs", *[f"mp{i}" for i in range(MP_MAX + 1)]]
UNUSED_KEYS = [f"unused{i}" for i in range(256)]
SIZE = {"type": "string", "pattern": r"\+?\d+(\.\d+)?[KMGT]?"}


@method(
    "PUT",
    "/nodes/{node}/lxc/{vmid}/resize",
    name="resize_vm",
    permissions=perm("/vms/{vmid}", ["VM.Config.Disk"], any_=True),
    protected=True,
    proxyto="node",
    parameters={
        **BASE,
        "disk": {"type": "string", "enum": VOLUME_KEYS},
        "size": SIZE,
        "digest": opt(STR, maxLength=40),
    },
    returns=STR,
)
async def ct_resize(call: Call, p: dict[str, Any]) -> str:
    """Grow a mount point's volume (``+SIZE`` adds, ``SIZE`` sets the new size)."""
    vmid = int(p["vmid"])
    lxc = call.svc.lxc
    lxc.load(vmid)

    async def work(tlog: TaskLog) -> None:
        async with lxc.guests.lock(vmid):
            await disks.resize(lxc, vmid, str(p["disk"]), str(p["size"]), p.get("digest"))
        tlog.log(f"resized {p['disk']} of CT {vmid}")

    return await call.svc.tasks.start("resize", str(vmid), call.authid, work)


@method(
    "POST",
    "/nodes/{node}/lxc/{vmid}/move_volume",
    name="move_volume",
    permissions=perm("/vms/{vmid}", ["VM.Config.Disk"]),
    protected=True,
    proxyto="node",
    parameters={
        **BASE,
        "volume": {"type": "string", "enum": [*VOLUME_KEYS, *UNUSED_KEYS]},
        "storage": opt(STR, format="pve-storage-id"),
        "delete": opt(BOOL, default=0),
        "digest": opt(STR, maxLength=40),
        "target-vmid": opt(VMID),
        "target-volume": opt(STR, enum=[*VOLUME_KEYS, *UNUSED_KEYS]),
        "target-digest": opt(STR, maxLength=40),
        "bwlimit": opt(NUM, minimum="0"),
    },
    returns=STR,
)
async def ct_move_volume(call: Call, p: dict[str, Any]) -> str:
    """Copy a stopped container's volume to another storage (``delete`` the source)."""
    vmid = int(p["vmid"])
    if "target-vmid" in p:
        raise PyxisError("moving a volume to another container is not supported yet", status=501)
    if "storage" not in p:
        raise ParamError.one("storage", "property is missing and it is not optional")
    lxc = call.svc.lxc
    from pyxis.guests.lxc.volumes import check_storage

    check_storage(call.svc, call.authid, str(p["storage"]), "storage")
    lxc.load(vmid)

    async def work(tlog: TaskLog) -> None:
        async with lxc.guests.lock(vmid):
            await disks.move(
                lxc, vmid, str(p["volume"]), str(p["storage"]), bool(p.get("delete")), tlog
            )

    return await call.svc.tasks.start("move_volume", str(vmid), call.authid, work)


@method(
    "POST",
    "/nodes/{node}/lxc/{vmid}/clone",
    name="clone_vm",
    permissions={
        "check": [
            "and",
            ["perm", "/vms/{vmid}", ["VM.Clone"]],
            [
                "or",
                ["perm", "/vms/{newid}", ["VM.Allocate"]],
                ["perm", "/pool/{pool}", ["VM.Allocate"], "require_param", "pool"],
            ],
        ]
    },
    protected=True,
    proxyto="node",
    parameters={
        **BASE,
        "newid": VMID,
        "full": opt(BOOL),
        "hostname": opt(STR, format="dns-name"),
        "description": opt(STR),
        "snapname": opt(STR, format="pve-configid", maxLength=40),
        "storage": opt(STR, format="pve-storage-id"),
        "target": opt(NODE),
        "pool": opt(STR, format="pve-poolid"),
        "bwlimit": opt(NUM, minimum="0"),
    },
    returns=STR,
)
async def ct_clone(call: Call, p: dict[str, Any]) -> str:
    """Create a copy of a container (full, or linked from a template where possible)."""
    vmid, newid = int(p["vmid"]), int(p["newid"])
    if p.get("target") and p["target"] != call.svc.node:
        raise PyxisError("cloning to another node is not supported yet", status=501)
    if p.get("pool"):
        raise ParamError.one("pool", "pools are not supported yet")
    lxc = call.svc.lxc
    lxc.load(vmid)
    lxc.guests.check_free(newid)
    if "storage" in p:
        from pyxis.guests.lxc.volumes import check_storage

        check_storage(call.svc, call.authid, str(p["storage"]), "storage")

    async def work(tlog: TaskLog) -> None:
        await snapshots.clone(lxc, vmid, newid, p, tlog)

    return await call.svc.tasks.start("vzclone", str(vmid), call.authid, work)


@method(
    "POST",
    "/nodes/{node}/lxc/{vmid}/template",
    name="template",
    permissions=perm("/vms/{vmid}", ["VM.Allocate"]),
    protected=True,
    proxyto="node",
    parameters=BASE,
)
async def ct_template(call: Call, p: dict[str, Any]) -> None:
    """Turn a stopped container into a template."""
    vmid = int(p["vmid"])
    lxc = call.svc.lxc
    lxc.load(vmid)

    async def work(tlog: TaskLog) -> None:
        await snapshots.template(lxc, vmid, tlog)

    upid = await call.svc.tasks.start("vztemplate", str(vmid), call.authid, work)
    status = await call.svc.tasks.wait(upid)
    if status != "OK":
        raise PyxisError(status)
