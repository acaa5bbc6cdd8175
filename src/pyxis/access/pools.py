"""Resource pools: membership rules over ``UserCfg.pools``.

A guest belongs to at most one pool; a storage may be in several.  Nested pool ids
(``parent/child``) need their parent to exist, and a pool with members or children
cannot be deleted.  These functions edit a parsed ``UserCfg`` (inside
``AccessService.modify``) and raise ``ParamError``/``Conflict`` with upstream-like
messages; ``add_vm``/``remove_vm`` are the async entry points the guest code uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyxis.access.usercfg import Pool, UserCfg
from pyxis.errors import Conflict, NotFound, ParamError

if TYPE_CHECKING:
    from pyxis.services import Services


def get_pool(cfg: UserCfg, poolid: str) -> Pool:
    pool = cfg.pools.get(poolid)
    if pool is None:
        raise NotFound(f"pool '{poolid}' does not exist")
    return pool


def create(cfg: UserCfg, poolid: str, comment: str = "") -> None:
    if poolid in cfg.pools:
        raise ParamError.one("poolid", f"pool '{poolid}' already exists")
    parent = poolid.rpartition("/")[0]
    if parent and parent not in cfg.pools:
        raise ParamError.one("poolid", f"parent pool '{parent}' does not exist")
    if poolid.count("/") > 2:
        raise ParamError.one("poolid", "pools can be nested at most three levels deep")
    cfg.pools[poolid] = Pool(comment=comment)


def delete(cfg: UserCfg, poolid: str) -> None:
    pool = get_pool(cfg, poolid)
    if pool.vms or pool.storage:
        raise Conflict(f"delete pool failed - pool '{poolid}' is not empty")
    if any(other.startswith(poolid + "/") for other in cfg.pools):
        raise Conflict(f"delete pool failed - pool '{poolid}' has sub-pools")
    cfg.delete_pool(poolid)


def add_vm(cfg: UserCfg, poolid: str, vmid: int, *, allow_move: bool = False) -> None:
    pool = get_pool(cfg, poolid)
    owner = cfg.pool_of_vm(vmid)
    if owner == poolid:
        return
    if owner is not None:
        if not allow_move:
            raise ParamError.one("vms", f"VM {vmid} is already a member of pool '{owner}'")
        cfg.pools[owner].vms.discard(vmid)
    pool.vms.add(vmid)


def remove_vm(cfg: UserCfg, vmid: int) -> str | None:
    """Drop ``vmid`` from its pool; return the pool id it was in."""
    owner = cfg.pool_of_vm(vmid)
    if owner is not None:
        cfg.pools[owner].vms.discard(vmid)
    return owner


async def add_vm_async(svc: Services, poolid: str, vmid: int) -> None:
    """Put a freshly created guest into ``poolid``."""
    await svc.access.modify(lambda cfg: add_vm(cfg, poolid, vmid))


async def remove_vm_async(svc: Services, vmid: int) -> None:
    """Forget a destroyed guest's pool membership (no write when it had none)."""
    if svc.access.cfg().pool_of_vm(vmid) is not None:

        def change(cfg: UserCfg) -> None:
            remove_vm(cfg, vmid)

        await svc.access.modify(change)
