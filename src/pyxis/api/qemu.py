"""``/nodes/{node}/qemu``: VM list, create, config, pending changes and destroy.

Config keys are declared once in ``pyxis.guests.qemu.keys``; the create and config
methods take every user-settable key from there.  Handlers only translate between the
API and ``QemuService``.
"""

from __future__ import annotations

from typing import Any

from pyxis.api.common import (
    ALL_USERS,
    BOOL,
    INT,
    NODE,
    NUM,
    STR,
    VMID,
    array_of,
    obj,
    opt,
    perm,
    subdirs,
)
from pyxis.api.context import Call
from pyxis.errors import ParamError, PermissionDenied, PyxisError
from pyxis.guests.qemu.config import pending_view
from pyxis.guests.qemu.configure import config_view, typed_values
from pyxis.guests.qemu.keys import VM_KEYS
from pyxis.schema.registry import method

INTERNAL = {
    "meta",
    "parent",
    "running-nets-host-mtu",
    "runningcpu",
    "runningmachine",
    "snapstate",
    "snaptime",
    "vmstate",
}
CONFIG_KEYS = {k: {**v, "optional": 1} for k, v in VM_KEYS.items() if k not in INTERNAL}
CDROM = {"type": "string", "format": "pve-qm-ide", "optional": 1}
ANY_CONFIG = perm(
    "/vms/{vmid}",
    [
        "VM.Config.Disk",
        "VM.Config.CDROM",
        "VM.Config.CPU",
        "VM.Config.Memory",
        "VM.Config.Network",
        "VM.Config.HWType",
        "VM.Config.Options",
        "VM.Config.Cloudinit",
    ],
    any_=True,
)
UPDATE_PARAMS = {
    "node": NODE,
    "vmid": VMID,
    **CONFIG_KEYS,
    "cdrom": CDROM,
    "delete": opt(STR, format="pve-configid-list"),
    "revert": opt(STR, format="pve-configid-list"),
    "digest": {"type": "string", "optional": 1, "maxLength": 40},
    "skiplock": opt(BOOL),
    "force": opt(BOOL, requires="delete"),
}
VM_ITEM = obj(
    vmid=VMID,
    status={"type": "string", "enum": ["stopped", "running"]},
    name=opt(STR),
    cpu=opt(NUM),
    cpus=opt(NUM),
    mem=opt(INT),
    maxmem=opt(INT),
    disk=opt(INT),
    maxdisk=opt(INT),
    uptime=opt(INT),
    pid=opt(INT),
    netin=opt(INT),
    netout=opt(INT),
    diskread=opt(INT),
    diskwrite=opt(INT),
    qmpstatus=opt(STR),
    lock=opt(STR),
    tags=opt(STR),
    template=opt(BOOL, default=0),
)


@method(
    "GET",
    "/nodes/{node}/qemu",
    name="vmlist",
    permissions=ALL_USERS,
    protected=True,
    proxyto="node",
    parameters={"node": NODE, "full": opt(BOOL)},
    returns=array_of(VM_ITEM),
)
async def vm_list(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Virtual machines on this node that the caller may audit."""
    qemu = call.svc.qemu
    out = []
    for vmid in qemu.local_vmids():
        if not call.svc.access.check(call.authid, f"/vms/{vmid}", ["VM.Audit"]):
            continue
        try:
            cfg, _ = qemu.load(vmid)
        except PyxisError:
            continue
        out.append(qemu.basic_status(vmid, cfg))
    return out


@method(
    "POST",
    "/nodes/{node}/qemu",
    name="create_vm",
    permissions=ALL_USERS,
    protected=True,
    proxyto="node",
    parameters={
        "node": NODE,
        "vmid": VMID,
        **CONFIG_KEYS,
        "cdrom": CDROM,
        "start": opt(BOOL, default=0),
        "pool": opt(STR, format="pve-poolid"),
        "storage": opt(STR, format="pve-storage-id"),
    },
    returns=STR,
)
async def create_vm(call: Call, p: dict[str, Any]) -> str:
    """Create a VM (disks given as STORAGE:SIZE are allocated); answers with a UPID."""
    vmid = int(p.pop("vmid"))
    p.pop("node")
    pool = p.pop("pool", None)
    if pool is not None and pool not in call.svc.access.cfg().pools:
        raise ParamError.one("pool", f"pool '{pool}' does not exist")
    # as upstream: VM.Allocate on the new VM's path or on the pool it is created in
    if not call.svc.access.check(call.authid, f"/vms/{vmid}", ["VM.Allocate"]) and not (
        pool and call.svc.access.check(call.authid, f"/pool/{pool}", ["VM.Allocate"])
    ):
        raise PermissionDenied(f"Permission check failed (/vms/{vmid}, VM.Allocate)")
    default_storage = p.pop("storage", None)
    if default_storage:
        for key, value in list(p.items()):
            if key[:-1] in ("scsi", "virtio", "sata", "ide") or key.rstrip("0123456789") in (
                "scsi",
                "virtio",
                "sata",
                "ide",
                "efidisk",
            ):
                head = str(value).split(",")[0]
                if head.replace(".", "", 1).isdigit():
                    p[key] = f"{default_storage}:{value}"
    return await call.svc.qemu.create(call.authid, vmid, p, pool=pool)


@method(
    "GET",
    "/nodes/{node}/qemu/{vmid}",
    name="vmdiridx",
    permissions=ALL_USERS,
    proxyto="node",
    parameters={"node": NODE, "vmid": VMID},
    returns=array_of(obj(subdir=STR)),
)
async def vm_index(call: Call, p: dict[str, Any]) -> list[dict[str, str]]:
    """Directory index of one VM."""
    call.svc.qemu.path(int(p["vmid"]))
    return subdirs(
        "config",
        "pending",
        "status",
        "snapshot",
        "resize",
        "clone",
        "template",
        "move_disk",
        "unlink",
        "agent",
        "cloudinit",
        "rrddata",
        "vncproxy",
        "termproxy",
    )


@method(
    "GET",
    "/nodes/{node}/qemu/{vmid}/config",
    name="vm_config",
    permissions=perm("/vms/{vmid}", ["VM.Audit"]),
    proxyto="node",
    parameters={
        "node": NODE,
        "vmid": VMID,
        "current": opt(BOOL, default=0),
        "snapshot": opt(STR, format="pve-configid", maxLength=40),
    },
    returns={"type": "object", "properties": {"digest": STR}},
)
async def vm_config(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """The VM config (pending values applied unless ``current=1``), with ``digest``."""
    cfg, dig = call.svc.qemu.load(int(p["vmid"]))
    if "snapshot" in p:
        snap = cfg.snapshots.get(p["snapshot"])
        if snap is None:
            raise ParamError.one("snapshot", f"snapshot '{p['snapshot']}' does not exist")
        out = typed_values(dict(snap))
    else:
        out = config_view(cfg, bool(p.get("current")))
    out["digest"] = dig
    return out


@method(
    "PUT",
    "/nodes/{node}/qemu/{vmid}/config",
    name="update_vm",
    permissions=ANY_CONFIG,
    protected=True,
    proxyto="node",
    parameters=UPDATE_PARAMS,
)
async def update_vm(call: Call, p: dict[str, Any]) -> None:
    """Change the config synchronously (disk allocation included)."""
    vmid = int(p.pop("vmid"))
    p.pop("node")
    await call.svc.qemu.update(call.authid, vmid, p)


@method(
    "POST",
    "/nodes/{node}/qemu/{vmid}/config",
    name="update_vm_async",
    permissions=ANY_CONFIG,
    protected=True,
    proxyto="node",
    parameters={**UPDATE_PARAMS, "background_delay": opt(INT, minimum=1, maximum=30)},
    returns=opt(STR),
)
async def update_vm_async(call: Call, p: dict[str, Any]) -> str:
    """Change the config in a task; answers with its UPID."""
    vmid = int(p.pop("vmid"))
    p.pop("node")
    qemu = call.svc.qemu
    qemu.path(vmid)

    async def work(tlog: Any) -> None:
        await qemu.update(call.authid, vmid, p, tlog)

    return await call.svc.tasks.start("qmconfig", str(vmid), call.authid, work)


@method(
    "GET",
    "/nodes/{node}/qemu/{vmid}/pending",
    name="vm_pending",
    permissions=perm("/vms/{vmid}", ["VM.Audit"]),
    proxyto="node",
    parameters={"node": NODE, "vmid": VMID},
    returns=array_of(
        obj(key=STR, value=opt(STR), pending=opt(STR), delete=opt(INT, minimum=0, maximum=2))
    ),
)
async def vm_pending(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Every key with its current value, pending value and pending deletion."""
    cfg, _ = call.svc.qemu.load(int(p["vmid"]))
    return pending_view(cfg)


@method(
    "DELETE",
    "/nodes/{node}/qemu/{vmid}",
    name="destroy_vm",
    permissions=perm("/vms/{vmid}", ["VM.Allocate"]),
    protected=True,
    proxyto="node",
    parameters={
        "node": NODE,
        "vmid": VMID,
        "purge": opt(BOOL),
        "skiplock": opt(BOOL),
        "destroy-unreferenced-disks": opt(BOOL, default=0),
    },
    returns=STR,
)
async def destroy_vm(call: Call, p: dict[str, Any]) -> str:
    """Destroy a stopped VM and every volume it references; answers with a UPID."""
    if p.get("skiplock") and not call.is_root:
        raise PermissionDenied("only root@pam may use 'skiplock'")
    return await call.svc.qemu.destroy(
        call.authid,
        int(p["vmid"]),
        bool(p.get("purge")),
        bool(p.get("destroy-unreferenced-disks")),
        bool(p.get("skiplock")),
    )
