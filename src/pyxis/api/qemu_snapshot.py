"""``/nodes/{node}/qemu/{vmid}/snapshot``: list, create, roll back, delete and describe
VM snapshots.

Create, rollback and delete run as tasks and answer with a UPID; the work itself is
``pyxis.guests.qemu.snapshots``.  Handlers only translate between the API and it.
"""

from __future__ import annotations

from typing import Any

from pyxis.api.common import ALL_USERS, BOOL, INT, NODE, STR, VMID, array_of, obj, opt, perm
from pyxis.api.context import Call
from pyxis.guests.qemu.snapshots import Snapshots, check_description
from pyxis.schema.registry import method

BASE = {"node": NODE, "vmid": VMID}
SNAPNAME = {"type": "string", "format": "pve-configid", "maxLength": 40}
ONE = {**BASE, "snapname": SNAPNAME}
SNAPSHOT = perm("/vms/{vmid}", ["VM.Snapshot"])
SNAP_ITEM = obj(
    name=STR,
    description=STR,
    parent=opt(STR),
    snaptime=opt(INT),
    vmstate=opt(BOOL),
)


def _ops(call: Call) -> Snapshots:
    return Snapshots(call.svc.qemu)


@method(
    "GET",
    "/nodes/{node}/qemu/{vmid}/snapshot",
    name="snapshot_list",
    permissions=perm("/vms/{vmid}", ["VM.Audit"]),
    protected=True,
    proxyto="node",
    parameters=BASE,
    returns=array_of(SNAP_ITEM),
)
async def snapshot_list(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Every snapshot of the VM, then ``current`` (the running state) with its parent."""
    return _ops(call).listing(int(p["vmid"]))


@method(
    "POST",
    "/nodes/{node}/qemu/{vmid}/snapshot",
    name="snapshot",
    permissions=SNAPSHOT,
    protected=True,
    proxyto="node",
    parameters={**ONE, "vmstate": opt(BOOL), "description": opt(STR)},
    returns=STR,
)
async def snapshot_create(call: Call, p: dict[str, Any]) -> str:
    """Snapshot the VM (with ``vmstate=1`` a running VM's RAM too); answers with a UPID."""
    return await _ops(call).create(
        call.authid,
        int(p["vmid"]),
        str(p["snapname"]),
        check_description(p.get("description")),
        bool(p.get("vmstate")),
    )


@method(
    "GET",
    "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}",
    name="snapshot_cmd_idx",
    permissions=ALL_USERS,
    parameters=ONE,
    returns=array_of({"type": "object", "properties": {}}),
)
async def snapshot_index(call: Call, p: dict[str, Any]) -> list[dict[str, str]]:
    """Directory index of one snapshot."""
    _ops(call).config(int(p["vmid"]), str(p["snapname"]))
    return [{"cmd": "rollback"}, {"cmd": "config"}]


@method(
    "GET",
    "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config",
    name="get_snapshot_config",
    permissions=perm("/vms/{vmid}", ["VM.Snapshot", "VM.Snapshot.Rollback", "VM.Audit"], any_=True),
    proxyto="node",
    parameters=ONE,
    returns={"type": "object"},
)
async def snapshot_config(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """The VM config as it was when the snapshot was taken."""
    return _ops(call).config(int(p["vmid"]), str(p["snapname"]))


@method(
    "PUT",
    "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/config",
    name="update_snapshot_config",
    permissions=SNAPSHOT,
    protected=True,
    proxyto="node",
    parameters={**ONE, "description": opt(STR)},
)
async def snapshot_update(call: Call, p: dict[str, Any]) -> None:
    """Change a snapshot's description."""
    text = check_description(p["description"]) if "description" in p else None
    await _ops(call).set_description(int(p["vmid"]), str(p["snapname"]), text)


@method(
    "POST",
    "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}/rollback",
    name="rollback",
    permissions=perm("/vms/{vmid}", ["VM.Snapshot", "VM.Snapshot.Rollback"], any_=True),
    protected=True,
    proxyto="node",
    parameters={**ONE, "start": opt(BOOL, default=0)},
    returns=STR,
)
async def snapshot_rollback(call: Call, p: dict[str, Any]) -> str:
    """Roll the VM back to the snapshot (a snapshot with RAM starts the VM from it)."""
    return await _ops(call).rollback(
        call.authid, int(p["vmid"]), str(p["snapname"]), bool(p.get("start"))
    )


@method(
    "DELETE",
    "/nodes/{node}/qemu/{vmid}/snapshot/{snapname}",
    name="delsnapshot",
    permissions=SNAPSHOT,
    protected=True,
    proxyto="node",
    parameters={**ONE, "force": opt(BOOL)},
    returns=STR,
)
async def snapshot_delete(call: Call, p: dict[str, Any]) -> str:
    """Remove a snapshot (``force``: drop the config even if a disk cannot be cleaned)."""
    return await _ops(call).delete(
        call.authid, int(p["vmid"]), str(p["snapname"]), bool(p.get("force"))
    )
