"""``/pools``: resource pools (guests and storages grouped for delegation).

Both shapes upstream offers are served: the current one with ``poolid`` as a
parameter of ``/pools`` and the older ``/pools/{poolid}`` paths.  Adding or removing
a guest needs ``VM.Allocate`` on it, a storage ``Datastore.Allocate`` on it, and
moving a guest out of another pool (``allow-move``) ``Pool.Allocate`` on that pool.
"""

from __future__ import annotations

from typing import Any

from pyxis.access import pools
from pyxis.access.usercfg import UserCfg, split_list
from pyxis.api.common import ALL_USERS, BOOL, STR, array_of, obj, opt, perm
from pyxis.api.context import Call
from pyxis.cluster import resources
from pyxis.errors import ParamError, PermissionDenied
from pyxis.schema.registry import method

POOLID = {"type": "string", "format": "pve-poolid"}
TYPE = {"type": "string", "enum": ["qemu", "lxc", "storage"]}
MEMBER = {
    "type": "object",
    "additionalProperties": 1,
    "properties": {
        "id": STR,
        "node": STR,
        "storage": opt(STR),
        "type": {"type": "string", "enum": ["qemu", "lxc", "openvz", "storage"]},
        "vmid": opt({"type": "integer"}),
    },
}
ALLOCATE = perm("/pool/{poolid}", ["Pool.Allocate"])
UPDATE_PARAMS = {
    "poolid": POOLID,
    "comment": opt(STR),
    "vms": opt(STR, format="pve-vmid-list"),
    "storage": opt(STR, format="pve-storage-id-list"),
    "delete": opt(BOOL, default=0),
    "allow-move": opt(BOOL, default=0),
}


async def _members(call: Call, poolid: str, kind: str | None) -> list[dict[str, Any]]:
    pool = pools.get_pool(call.svc.access.cfg(), poolid)
    out: list[dict[str, Any]] = []
    if kind in (None, "qemu", "lxc"):
        for res in resources.guest_entries(call.svc):
            if res["vmid"] in pool.vms and kind in (None, res["type"]):
                out.append(res)
    if kind in (None, "storage"):
        for res in await resources.storage_entries(call.svc):
            if res.get("storage") in pool.storage:
                out.append(res)
    return out


@method(
    "GET",
    "/pools",
    name="index",
    permissions=ALL_USERS,
    parameters={"poolid": opt(POOLID), "type": opt(TYPE, requires="poolid")},
    returns=array_of(obj(poolid=POOLID, comment=opt(STR), members=opt(array_of(MEMBER)))),
)
async def list_pools(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Pools the caller may audit; with ``poolid`` only that one, with its members."""
    cfg = call.svc.access.cfg()
    out = []
    for poolid, pool in sorted(cfg.pools.items()):
        if "poolid" in p and poolid != p["poolid"]:
            continue
        if not call.svc.access.check(call.authid, f"/pool/{poolid}", ["Pool.Audit"]):
            continue
        rec: dict[str, Any] = {"poolid": poolid}
        if pool.comment:
            rec["comment"] = pool.comment
        if "poolid" in p:
            rec["members"] = await _members(call, poolid, p.get("type"))
        out.append(rec)
    if "poolid" in p and not out:
        pools.get_pool(cfg, p["poolid"])
        raise PermissionDenied(f"Permission check failed (/pool/{p['poolid']}, Pool.Audit)")
    return out


@method(
    "POST",
    "/pools",
    name="create_pool",
    protected=True,
    permissions=ALLOCATE,
    parameters={"poolid": POOLID, "comment": opt(STR)},
)
async def create_pool(call: Call, p: dict[str, Any]) -> None:
    """Create an empty pool."""
    await call.svc.access.modify(lambda cfg: pools.create(cfg, p["poolid"], p.get("comment", "")))


def _check_member_privs(call: Call, p: dict[str, Any], vms: list[int], stores: list[str]) -> None:
    access = call.svc.access
    cfg = access.cfg()
    known = call.svc.used_vmids()
    for vmid in vms:
        if vmid not in known and not p.get("delete"):
            raise ParamError.one("vms", f"VM {vmid} does not exist")
        if not access.check(call.authid, f"/vms/{vmid}", ["VM.Allocate"]):
            raise PermissionDenied(f"Permission check failed (/vms/{vmid}, VM.Allocate)")
        owner = cfg.pool_of_vm(vmid)
        moving = owner not in (None, p["poolid"]) and p.get("allow-move")
        if (
            moving
            and not p.get("delete")
            and not access.check(call.authid, f"/pool/{owner}", ["Pool.Allocate"])
        ):
            raise PermissionDenied(f"Permission check failed (/pool/{owner}, Pool.Allocate)")
    configured = set(call.svc.storage.config().ids)
    for sid in stores:
        if sid not in configured and not p.get("delete"):
            raise ParamError.one("storage", f"storage '{sid}' does not exist")
        if not access.check(call.authid, f"/storage/{sid}", ["Datastore.Allocate"]):
            raise PermissionDenied(f"Permission check failed (/storage/{sid}, Datastore.Allocate)")


async def _update(call: Call, p: dict[str, Any]) -> None:
    poolid = p["poolid"]
    vms = [int(v) for v in split_list(p.get("vms", ""))]
    stores = split_list(p.get("storage", ""))
    pools.get_pool(call.svc.access.cfg(), poolid)
    _check_member_privs(call, p, vms, stores)

    def change(cfg: UserCfg) -> None:
        pool = pools.get_pool(cfg, poolid)
        if "comment" in p:
            pool.comment = p["comment"]
        for vmid in vms:
            if p.get("delete"):
                if vmid not in pool.vms:
                    raise ParamError.one("vms", f"VM {vmid} is not a member of pool '{poolid}'")
                pool.vms.discard(vmid)
            else:
                pools.add_vm(cfg, poolid, vmid, allow_move=bool(p.get("allow-move")))
        for sid in stores:
            if p.get("delete"):
                pool.storage.discard(sid)
            else:
                pool.storage.add(sid)

    await call.svc.access.modify(change)


@method(
    "PUT",
    "/pools",
    name="update_pool",
    protected=True,
    permissions=ALLOCATE,
    parameters=UPDATE_PARAMS,
)
async def update_pool(call: Call, p: dict[str, Any]) -> None:
    """Change a pool's comment or add (``delete=1``: remove) guests and storages."""
    await _update(call, p)


@method(
    "DELETE",
    "/pools",
    name="delete_pool",
    protected=True,
    permissions=ALLOCATE,
    parameters={"poolid": POOLID},
)
async def delete_pool(call: Call, p: dict[str, Any]) -> None:
    """Delete an empty pool and its ACL entries."""
    await call.svc.access.modify(lambda cfg: pools.delete(cfg, p["poolid"]))


@method(
    "GET",
    "/pools/{poolid}",
    name="read_pool",
    permissions=perm("/pool/{poolid}", ["Pool.Audit"]),
    parameters={"poolid": POOLID, "type": opt(TYPE)},
    returns={
        "type": "object",
        "additionalProperties": 0,
        "properties": {"comment": opt(STR), "members": array_of(MEMBER)},
    },
)
async def read_pool(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """A pool's comment and members (older path form)."""
    pool = pools.get_pool(call.svc.access.cfg(), p["poolid"])
    out: dict[str, Any] = {"members": await _members(call, p["poolid"], p.get("type"))}
    if pool.comment:
        out["comment"] = pool.comment
    return out


@method(
    "PUT",
    "/pools/{poolid}",
    name="update_pool_deprecated",
    protected=True,
    permissions=ALLOCATE,
    parameters=UPDATE_PARAMS,
)
async def update_pool_by_path(call: Call, p: dict[str, Any]) -> None:
    """Change a pool (older path form of ``PUT /pools``)."""
    await _update(call, p)


@method(
    "DELETE",
    "/pools/{poolid}",
    name="delete_pool_deprecated",
    protected=True,
    permissions=ALLOCATE,
    parameters={"poolid": POOLID},
)
async def delete_pool_by_path(call: Call, p: dict[str, Any]) -> None:
    """Delete an empty pool (older path form of ``DELETE /pools``)."""
    await call.svc.access.modify(lambda cfg: pools.delete(cfg, p["poolid"]))
