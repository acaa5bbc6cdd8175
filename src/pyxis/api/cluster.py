"""``/cluster``: status, resources, next free VM id and datacenter options."""

from __future__ import annotations

from typing import Any

from pyxis.api.common import (
    ALL_USERS,
    BOOL,
    DELETE_LIST,
    INT,
    NUM,
    STR,
    VMID_OPT,
    array_of,
    dir_index,
    obj,
    opt,
    perm,
    subdirs,
)
from pyxis.api.context import Call
from pyxis.cluster import datacenter, resources
from pyxis.cluster.nextid import VmidAllocator
from pyxis.errors import ParamError
from pyxis.schema.registry import method

STATUS_ITEM = obj(
    id=STR,
    name=STR,
    type={"type": "string", "enum": ["cluster", "node"]},
    ip=opt(STR),
    level=opt(STR),
    local=opt(BOOL),
    nodeid=opt(INT),
    nodes=opt(INT),
    online=opt(BOOL),
    quorate=opt(BOOL),
    version=opt(INT),
)

RESOURCE_ITEM = obj(
    id=STR,
    type={
        "type": "string",
        "enum": ["node", "storage", "pool", "qemu", "lxc", "openvz", "sdn", "network"],
    },
    node=opt(STR),
    status=opt(STR),
    storage=opt(STR),
    vmid=opt(INT),
    name=opt(STR),
    cpu=opt(NUM, minimum=0),
    maxcpu=opt(NUM, minimum=0),
    mem=opt(INT, minimum=0),
    maxmem=opt(INT),
    disk=opt(INT, minimum=0),
    maxdisk=opt(INT, minimum=0),
    uptime=opt(INT),
    content=opt(STR, format="pve-storage-content-list"),
    plugintype=opt(STR),
    shared=opt(BOOL),
    level=opt(STR),
    template=opt(BOOL),
    tags=opt(STR),
    lock=opt(STR),
    pool=opt(STR),
    hastate=opt(STR),
)


@method("GET", "/cluster", name="index", permissions=ALL_USERS, returns=dir_index())
async def cluster_index(call: Call, p: dict[str, Any]) -> list[dict[str, str]]:
    """Directory index."""
    return subdirs("config", "log", "nextid", "options", "resources", "status", "tasks")


@method(
    "GET",
    "/cluster/status",
    name="get_status",
    permissions=perm("/", ["Sys.Audit"]),
    protected=True,
    returns=array_of(STATUS_ITEM),
)
async def cluster_status(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Cluster membership and quorum as this node sees it."""
    return call.svc.cluster_status()


@method(
    "GET",
    "/cluster/resources",
    name="resources",
    permissions=ALL_USERS,
    parameters={"type": opt({"type": "string", "enum": ["vm", "storage", "node", "sdn"]})},
    returns=array_of(RESOURCE_ITEM),
)
async def cluster_resources(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node, guest and storage the caller may see, with live status."""
    kind = p.get("type")
    out: list[dict[str, Any]] = []
    perms = call.svc.access
    pool_cfg = perms.cfg().pools
    vm_pool = {vmid: pid for pid, pool in pool_cfg.items() for vmid in pool.vms}
    storage_pool = {sid: pid for pid, pool in pool_cfg.items() for sid in sorted(pool.storage)}
    if kind in (None, "node"):
        for res in resources.node_entries(call.svc):
            if perms.check(call.authid, f"/nodes/{res['node']}", ["Sys.Audit"]):
                out.append(res)
    if kind in (None, "storage"):
        for res in await resources.storage_entries(call.svc):
            if perms.check(
                call.authid,
                f"/storage/{res['storage']}",
                ["Datastore.Audit", "Datastore.AllocateSpace"],
                any_=True,
            ):
                if res["storage"] in storage_pool:
                    res = dict(res, pool=storage_pool[res["storage"]])
                out.append(res)
    if kind in (None, "vm"):
        for res in resources.guest_entries(call.svc):
            if perms.check(call.authid, f"/vms/{res['vmid']}", ["VM.Audit"]):
                if res["vmid"] in vm_pool:
                    res = dict(res, pool=vm_pool[res["vmid"]])
                out.append(res)
    if kind is None:
        # as upstream: pools are resources too (no ``type`` filter selects them)
        for pid in sorted(pool_cfg):
            if perms.check(call.authid, f"/pool/{pid}", ["Pool.Audit"]):
                out.append({"id": f"pool/{pid}", "type": "pool", "pool": pid})
    return out


@method(
    "GET",
    "/cluster/nextid",
    name="nextid",
    permissions=ALL_USERS,
    parameters={"vmid": VMID_OPT},
    returns=INT,
)
async def nextid(call: Call, p: dict[str, Any]) -> int:
    """The next free VM id (reserved cluster-wide for a while), or check a given id."""
    alloc = VmidAllocator(call.svc.store, call.svc.node)
    if "vmid" in p:
        return alloc.check(int(p["vmid"]), call.svc.used_vmids())
    lower, upper = datacenter.next_id_range(call.svc.datacenter())
    return await alloc.allocate(lower, upper, call.svc.used_vmids)


@method(
    "GET",
    "/cluster/options",
    name="get_options",
    permissions={"check": ["perm", "/", ["Sys.Audit"]], "user": "all"},
    returns={"type": "object"},
)
async def get_options(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Datacenter options (datacenter.cfg)."""
    return call.svc.datacenter()


_OPTION_PARAMS = {k: v for k, v in datacenter.OPTIONS.items()}


@method(
    "PUT",
    "/cluster/options",
    name="set_options",
    permissions=perm("/", ["Sys.Modify"]),
    protected=True,
    parameters={**_OPTION_PARAMS, "delete": DELETE_LIST},
)
async def set_options(call: Call, p: dict[str, Any]) -> None:
    """Change datacenter options; ``delete`` removes keys."""
    deletes = [k for k in (p.pop("delete", "") or "").split(",") if k]
    bad = {k: "unknown option" for k in deletes if k not in datacenter.OPTIONS}
    bad.update({k: "cannot set and delete the same option" for k in deletes if k in p})
    if bad:
        raise ParamError(bad)

    def change(cfg: dict[str, Any]) -> dict[str, Any]:
        for k in deletes:
            cfg.pop(k, None)
        cfg.update(p)
        return cfg

    await call.svc.update_datacenter(change)
