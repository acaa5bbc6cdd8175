"""``/nodes/{node}/qemu/{vmid}/{template,clone,resize,move_disk,unlink,feature}``.

Templates, clones and disk operations of one VM, declared as upstream; the work is in
``pyxis.guests.qemu.clone`` and ``pyxis.guests.qemu.diskops``.
"""

from __future__ import annotations

from typing import Any

from pyxis.api.common import BOOL, INT, NODE, STR, VMID, opt, perm
from pyxis.api.context import Call
from pyxis.errors import PermissionDenied
from pyxis.guests.qemu.clone import Cloner
from pyxis.guests.qemu.diskops import DiskOps
from pyxis.guests.qemu.features import feature_nodes, missing_feature
from pyxis.guests.qemu.keys_drives import DRIVE_NAMES
from pyxis.guests.qemu.snapconf import get as get_snapshot
from pyxis.schema.registry import method

BASE = {"node": NODE, "vmid": VMID}
DISK = {"type": "string", "enum": list(DRIVE_NAMES)}
ANY_DISK = {"type": "string", "enum": [*DRIVE_NAMES, *(f"unused{i}" for i in range(256))]}
FORMAT = {"type": "string", "enum": ["raw", "qcow2", "vmdk"]}
STORAGE = {"type": "string", "format": "pve-storage-id"}
SNAPNAME = {"type": "string", "format": "pve-configid", "maxLength": 40}
DIGEST = opt(STR, maxLength=40)
CONFIG_DISK = perm("/vms/{vmid}", ["VM.Config.Disk"])


@method(
    "POST",
    "/nodes/{node}/qemu/{vmid}/template",
    name="template",
    permissions=perm("/vms/{vmid}", ["VM.Allocate"]),
    protected=True,
    proxyto="node",
    parameters={**BASE, "disk": opt(DISK)},
    returns=STR,
)
async def template(call: Call, p: dict[str, Any]) -> str:
    """Turn a stopped VM into a template (its disks become read-only base volumes)."""
    return await Cloner(call.svc.qemu).template(call.authid, int(p["vmid"]), p.get("disk"))


@method(
    "POST",
    "/nodes/{node}/qemu/{vmid}/clone",
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
        "name": opt(STR, format="dns-name"),
        "description": opt(STR),
        "target": opt(NODE),
        "full": opt(BOOL),
        "storage": opt(STORAGE),
        "format": opt(FORMAT),
        "snapname": opt(SNAPNAME),
        "pool": opt(STR, format="pve-poolid"),
        "bwlimit": opt(INT, minimum="0", default="clone limit from datacenter or storage config"),
    },
    returns=STR,
)
async def clone_vm(call: Call, p: dict[str, Any]) -> str:
    """Clone a VM or template (linked clones need a template); answers with a UPID."""
    return await Cloner(call.svc.qemu).clone(call.authid, int(p["vmid"]), p)


@method(
    "PUT",
    "/nodes/{node}/qemu/{vmid}/resize",
    name="resize_vm",
    permissions=CONFIG_DISK,
    protected=True,
    proxyto="node",
    parameters={
        **BASE,
        "disk": DISK,
        "size": {"type": "string", "pattern": r"\+?\d+(\.\d+)?[KMGT]?"},
        "digest": DIGEST,
        "skiplock": opt(BOOL),
    },
    returns=STR,
)
async def resize_vm(call: Call, p: dict[str, Any]) -> str:
    """Grow a disk (``+1G`` adds, ``10G`` sets; shrinking is refused); answers with a UPID."""
    if p.get("skiplock") and not call.is_root:
        raise PermissionDenied("only root@pam may use 'skiplock'")
    return await DiskOps(call.svc.qemu).resize(
        call.authid,
        int(p["vmid"]),
        str(p["disk"]),
        str(p["size"]),
        p.get("digest"),
        bool(p.get("skiplock")),
    )


@method(
    "POST",
    "/nodes/{node}/qemu/{vmid}/move_disk",
    name="move_vm_disk",
    permissions=CONFIG_DISK,
    protected=True,
    proxyto="node",
    parameters={
        **BASE,
        "disk": ANY_DISK,
        "storage": opt(STORAGE),
        "format": opt(FORMAT),
        "delete": opt(BOOL, default=0),
        "digest": DIGEST,
        "bwlimit": opt(INT, minimum="0", default="move limit from datacenter or storage config"),
        "target-vmid": opt(VMID),
        "target-disk": opt(ANY_DISK),
        "target-digest": DIGEST,
    },
    returns=STR,
)
async def move_vm_disk(call: Call, p: dict[str, Any]) -> str:
    """Move a disk to another storage (QEMU mirrors it while the VM runs); answers with a
    UPID.  The old volume stays as ``unusedN`` unless ``delete=1``."""
    return await DiskOps(call.svc.qemu).move(call.authid, int(p["vmid"]), p)


@method(
    "PUT",
    "/nodes/{node}/qemu/{vmid}/unlink",
    name="unlink",
    permissions=CONFIG_DISK,
    protected=True,
    proxyto="node",
    parameters={
        **BASE,
        "idlist": {"type": "string", "format": "pve-configid-list"},
        "force": opt(BOOL),
    },
)
async def unlink(call: Call, p: dict[str, Any]) -> None:
    """Detach disks (``force``: and delete their volumes; ``unusedN`` are always deleted)."""
    await DiskOps(call.svc.qemu).unlink(
        call.authid, int(p["vmid"]), str(p["idlist"]), bool(p.get("force"))
    )


@method(
    "GET",
    "/nodes/{node}/qemu/{vmid}/feature",
    name="vm_feature",
    permissions=perm("/vms/{vmid}", ["VM.Audit"]),
    protected=True,
    proxyto="node",
    parameters={
        **BASE,
        "feature": {"type": "string", "enum": ["snapshot", "clone", "copy"]},
        "snapname": opt(SNAPNAME),
    },
    returns={
        "type": "object",
        "properties": {
            "hasFeature": BOOL,
            "nodes": {"type": "array", "items": STR},
        },
    },
)
async def vm_feature(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Whether every disk supports a feature (for the VM or one of its snapshots)."""
    cfg, _ = call.svc.qemu.load(int(p["vmid"]))
    snapname = p.get("snapname")
    section = get_snapshot(cfg, snapname) if snapname else cfg.main
    missing = await missing_feature(call.svc, str(p["feature"]), section, snapname)
    return {"hasFeature": 1 if missing is None else 0, "nodes": feature_nodes(call.svc, section)}
