"""``/nodes/{node}/lxc/{vmid}/snapshot``: list, create, roll back, delete, describe.

Snapshots are storage snapshots of every volume mount point (see
``pyxis.guests.lxc.snapshots``); create, rollback and delete run as tasks.
"""

from __future__ import annotations

from typing import Any

from pyxis.api.common import BOOL, INT, NODE, STR, VMID, array_of, obj, opt, perm, subdirs
from pyxis.api.context import Call
from pyxis.guests.lxc import snapshots
from pyxis.guests.lxc.configure import typed_values
from pyxis.guests.qemu import snapconf
from pyxis.schema.registry import method
from pyxis.tasks.manager import TaskLog

SNAPSHOT = perm("/vms/{vmid}", ["VM.Snapshot"])
AUDIT = perm("/vms/{vmid}", ["VM.Audit"])
BASE = {"node": NODE, "vmid": VMID}
SNAPNAME = {"type": "string", "format": "pve-configid", "maxLength": 40}


@method(
    "GET",
    "/nodes/{node}/lxc/{vmid}/snapshot",
    name="list",
    permissions=AUDIT,
    protected=True,
    proxyto="node",
    parameters=BASE,
    returns=array_of(obj(name=STR, description=STR, parent=opt(STR), snaptime=opt(INT))),
)
async def snapshot_list(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """The snapshots of the container, then ``current``."""
    vmid = int(p["vmid"])
    lxc = call.svc.lxc
    return snapshots.listing(lxc, vmid, lxc.fast_info(vmid).state != "STOPPED")


@method(
    "POST",
    "/nodes/{node}/lxc/{vmid}/snapshot",
    name="snapshot",
    permissions=SNAPSHOT,
    protected=True,
    proxyto="node",
    parameters={**BASE, "snapname": SNAPNAME, "description": opt(STR)},
    returns=STR,
)
async def snapshot_create(call: Call, p: dict[str, Any]) -> str:
    """Snapshot every volume of the container (frozen meanwhile if running)."""
    vmid, name = int(p["vmid"]), str(p["snapname"])
    lxc = call.svc.lxc
    cfg, _ = lxc.load(vmid)
    snapconf.check_name(name)
    if name in cfg.snapshots:
        raise snapconf.SnapshotError(f"snapshot name '{name}' already used")
    if (key := await snapshots._feature(lxc, "snapshot", cfg.main)) is not None:
        raise snapconf.SnapshotError(f"{snapshots.NOT_AVAILABLE} (mount point '{key}')")

    async def work(tlog: TaskLog) -> None:
        await snapshots.create(lxc, vmid, name, str(p.get("description", "")), tlog)

    return await call.svc.tasks.start("vzsnapshot", str(vmid), call.authid, work)


@method(
    "GET",
    "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}",
    name="snapshot_cmd_idx",
    permissions=AUDIT,
    parameters={**BASE, "snapname": SNAPNAME},
    returns=array_of({"type": "object", "properties": {}}),
)
async def snapshot_index(call: Call, p: dict[str, Any]) -> list[dict[str, str]]:
    """Directory index of one snapshot."""
    cfg, _ = call.svc.lxc.load(int(p["vmid"]))
    snapconf.get(cfg, str(p["snapname"]))
    return subdirs("rollback", "config")


@method(
    "DELETE",
    "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}",
    name="delsnapshot",
    permissions=SNAPSHOT,
    protected=True,
    proxyto="node",
    parameters={**BASE, "snapname": SNAPNAME, "force": opt(BOOL)},
    returns=STR,
)
async def snapshot_delete(call: Call, p: dict[str, Any]) -> str:
    """Delete a snapshot of every volume and its config section."""
    vmid, name = int(p["vmid"]), str(p["snapname"])
    lxc = call.svc.lxc
    cfg, _ = lxc.load(vmid)
    snapconf.get(cfg, name)

    async def work(tlog: TaskLog) -> None:
        await snapshots.delete(lxc, vmid, name, bool(p.get("force")), tlog)

    return await call.svc.tasks.start("vzdelsnapshot", str(vmid), call.authid, work)


@method(
    "POST",
    "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/rollback",
    name="rollback",
    permissions=perm("/vms/{vmid}", ["VM.Snapshot", "VM.Snapshot.Rollback"], any_=True),
    protected=True,
    proxyto="node",
    parameters={**BASE, "snapname": SNAPNAME, "start": opt(BOOL, default=0)},
    returns=STR,
)
async def snapshot_rollback(call: Call, p: dict[str, Any]) -> str:
    """Roll every volume and the config back to the snapshot (stops the container)."""
    vmid, name = int(p["vmid"]), str(p["snapname"])
    lxc = call.svc.lxc
    cfg, _ = lxc.load(vmid)
    snapconf.get(cfg, name)

    async def work(tlog: TaskLog) -> None:
        await snapshots.rollback(lxc, vmid, name, bool(p.get("start")), tlog)

    return await call.svc.tasks.start("vzrollback", str(vmid), call.authid, work)


@method(
    "GET",
    "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config",
    name="get_snapshot_config",
    permissions=perm("/vms/{vmid}", ["VM.Snapshot", "VM.Snapshot.Rollback", "VM.Audit"], any_=True),
    proxyto="node",
    parameters={**BASE, "snapname": SNAPNAME},
    returns={"type": "object"},
)
async def snapshot_config(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """The config as it was when the snapshot was taken."""
    cfg, _ = call.svc.lxc.load(int(p["vmid"]))
    return typed_values(dict(snapconf.get(cfg, str(p["snapname"]))))


@method(
    "PUT",
    "/nodes/{node}/lxc/{vmid}/snapshot/{snapname}/config",
    name="update_snapshot_config",
    permissions=SNAPSHOT,
    protected=True,
    proxyto="node",
    parameters={**BASE, "snapname": SNAPNAME, "description": opt(STR)},
)
async def snapshot_update(call: Call, p: dict[str, Any]) -> None:
    """Change a snapshot's description."""
    vmid, name = int(p["vmid"]), str(p["snapname"])
    lxc = call.svc.lxc
    if "description" not in p:
        return
    async with lxc.guests.lock(vmid):
        cfg, dig = lxc.load(vmid)
        snap = snapconf.get(cfg, name)
        if p["description"]:
            snap["description"] = str(p["description"])
        else:
            snap.pop("description", None)
        await lxc.save(vmid, cfg, dig)
