"""``/nodes/{node}/lxc``: container list, create, config, pending changes and destroy.

Config keys are declared once in ``pyxis.guests.lxc.keys`` (``CT_KEYS``); create and
config methods take every user-settable key from there.  Handlers only translate between
the API and ``LxcService``.
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
from pyxis.errors import ParamError, PermissionDenied
from pyxis.guests.lxc import create as ct_create
from pyxis.guests.lxc.configure import config_view, typed_values
from pyxis.guests.lxc.keys import CT_KEYS, INTERNAL_KEYS
from pyxis.guests.qemu.config import pending_view
from pyxis.schema.registry import method

CONFIG_KEYS = {k: {**v, "optional": 1} for k, v in CT_KEYS.items() if k not in INTERNAL_KEYS}
ANY_CONFIG = perm(
    "/vms/{vmid}",
    ["VM.Config.Disk", "VM.Config.CPU", "VM.Config.Memory", "VM.Config.Network",
     "VM.Config.Options"],
    any_=True,
)  # fmt: skip
CT_ITEM = obj(
    vmid=VMID,
    status={"type": "string", "enum": ["stopped", "running"]},
    name=opt(STR),
    type=opt(STR),
    cpu=opt(NUM),
    cpus=opt(NUM),
    mem=opt(INT),
    maxmem=opt(INT),
    maxswap=opt(INT),
    disk=opt(INT),
    maxdisk=opt(INT),
    uptime=opt(INT),
    netin=opt(INT),
    netout=opt(INT),
    diskread=opt(INT),
    diskwrite=opt(INT),
    lock=opt(STR),
    tags=opt(STR),
    template=opt(BOOL),
)


@method(
    "GET",
    "/nodes/{node}/lxc",
    name="vmlist",
    permissions=ALL_USERS,
    protected=True,
    proxyto="node",
    parameters={"node": NODE},
    returns=array_of(CT_ITEM),
)
async def ct_list(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Containers on this node that the caller may audit."""
    lxc = call.svc.lxc
    out = []
    for vmid in lxc.local_vmids():
        if not call.svc.access.check(call.authid, f"/vms/{vmid}", ["VM.Audit"]):
            continue
        try:
            cfg, _ = lxc.load(vmid)
        except Exception:  # noqa: S112 - a broken or vanished config is skipped
            continue
        out.append(lxc.basic_status(vmid, cfg))
    return out


@method(
    "POST",
    "/nodes/{node}/lxc",
    name="create_vm",
    permissions=ALL_USERS,
    protected=True,
    proxyto="node",
    parameters={
        "node": NODE,
        "vmid": VMID,
        **CONFIG_KEYS,
        "ostemplate": {"type": "string", "maxLength": 255},
        "password": opt(STR, minLength=5),
        "ssh-public-keys": opt(STR),
        "storage": opt(STR, format="pve-storage-id", default="local"),
        "start": opt(BOOL, default=0),
        "pool": opt(STR, format="pve-poolid"),
        "force": opt(BOOL),
        "restore": opt(BOOL),
        "unique": opt(BOOL, requires="restore"),
        "ignore-unpack-errors": opt(BOOL),
        "bwlimit": opt(NUM, minimum="0"),
        "ha-managed": opt(BOOL, default=0),
    },
    returns=STR,
)
async def create_ct(call: Call, p: dict[str, Any]) -> str:
    """Create a container from a template; answers with the UPID of the task."""
    vmid = int(p.pop("vmid"))
    p.pop("node")
    if not call.svc.access.check(call.authid, f"/vms/{vmid}", ["VM.Allocate"]):
        raise PermissionDenied(f"Permission check failed (/vms/{vmid}, VM.Allocate)")
    return await ct_create.create(call.svc.lxc, call.authid, vmid, p)


@method(
    "GET",
    "/nodes/{node}/lxc/{vmid}",
    name="vmdiridx",
    permissions=ALL_USERS,
    proxyto="node",
    parameters={"node": NODE, "vmid": VMID},
    returns=array_of(obj(subdir=STR)),
)
async def ct_index(call: Call, p: dict[str, Any]) -> list[dict[str, str]]:
    """Directory index of one container."""
    call.svc.lxc.path(int(p["vmid"]))
    return subdirs(
        "config", "pending", "status", "snapshot", "resize", "clone", "template",
        "move_volume", "rrddata", "termproxy", "vncwebsocket", "exec",
    )  # fmt: skip


@method(
    "GET",
    "/nodes/{node}/lxc/{vmid}/config",
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
async def ct_config(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """The container config (pending values applied unless ``current=1``), with ``digest``."""
    cfg, dig = call.svc.lxc.load(int(p["vmid"]))
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
    "/nodes/{node}/lxc/{vmid}/config",
    name="update_vm",
    permissions=ANY_CONFIG,
    protected=True,
    proxyto="node",
    parameters={
        "node": NODE,
        "vmid": VMID,
        **CONFIG_KEYS,
        "delete": opt(STR, format="pve-configid-list"),
        "revert": opt(STR, format="pve-configid-list"),
        "digest": {"type": "string", "optional": 1, "maxLength": 40},
    },
)
async def update_ct(call: Call, p: dict[str, Any]) -> None:
    """Change the config; on a running container some changes wait as pending."""
    vmid = int(p.pop("vmid"))
    p.pop("node")
    await call.svc.lxc.update(call.authid, vmid, p)


@method(
    "GET",
    "/nodes/{node}/lxc/{vmid}/pending",
    name="vm_pending",
    permissions=perm("/vms/{vmid}", ["VM.Audit"]),
    proxyto="node",
    parameters={"node": NODE, "vmid": VMID},
    returns=array_of(
        obj(key=STR, value=opt(STR), pending=opt(STR), delete=opt(INT, minimum=0, maximum=2))
    ),
)
async def ct_pending(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Every key with its current value, pending value and pending deletion."""
    cfg, _ = call.svc.lxc.load(int(p["vmid"]))
    return pending_view(cfg)


@method(
    "DELETE",
    "/nodes/{node}/lxc/{vmid}",
    name="destroy_vm",
    permissions=perm("/vms/{vmid}", ["VM.Allocate"]),
    protected=True,
    proxyto="node",
    parameters={
        "node": NODE,
        "vmid": VMID,
        "purge": opt(BOOL, default=0),
        "force": opt(BOOL, default=0),
        "destroy-unreferenced-disks": opt(BOOL),
    },
    returns=STR,
)
async def destroy_ct(call: Call, p: dict[str, Any]) -> str:
    """Destroy a container and every volume it references; answers with a UPID."""
    return await call.svc.lxc.destroy(
        call.authid,
        int(p["vmid"]),
        bool(p.get("purge")),
        bool(p.get("destroy-unreferenced-disks")),
        bool(p.get("force")),
    )
