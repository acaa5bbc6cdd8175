"""``/storage``: the cluster-wide storage definitions (storage.cfg).

Create and update parameters are the merge of every plugin's declared options
(``pyxis.storage.registry``), so a new plugin extends this API by declaration alone.
"""

from __future__ import annotations

from typing import Any

from pyxis.api.common import ALL_USERS, STORAGE_ID, STR, array_of, obj, opt, perm
from pyxis.api.context import Call
from pyxis.schema.registry import method
from pyxis.schema.sectioncfg import SectionConfig
from pyxis.storage import config as storage_config
from pyxis.storage.registry import PLUGINS, create_schema, update_schema

TYPE_ENUM = {"type": "string", "enum": sorted(PLUGINS)}


@method(
    "GET",
    "/storage",
    name="index",
    permissions=ALL_USERS,
    parameters={"type": opt(TYPE_ENUM)},
    returns=array_of(obj(storage=STR)),
)
async def list_storage(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Storage definitions the caller may see."""
    cfg = call.svc.storage.config()
    out = []
    for sid in cfg.order:
        section = cfg.ids[sid]
        if "type" in p and section["type"] != p["type"]:
            continue
        if not call.svc.access.check(
            call.authid,
            f"/storage/{sid}",
            ["Datastore.Audit", "Datastore.AllocateSpace"],
            any_=True,
        ):
            continue
        info = storage_config.storage_info(cfg, sid)
        info.pop("digest", None)
        out.append(info)
    return out


@method(
    "POST",
    "/storage",
    name="create",
    protected=True,
    permissions=perm("/storage", ["Datastore.Allocate"]),
    parameters=create_schema(),
    returns=obj(storage=STR, type=STR, config=opt({"type": "object"})),
)
async def create_storage(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Define a new storage; its directories are created when it is activated."""

    def change(cfg: SectionConfig) -> dict[str, Any]:
        return storage_config.create_storage(cfg, p)

    await call.svc.storage.modify(change)
    plugin = call.svc.storage.instance(p["storage"])
    if call.svc.storage.enabled_here(plugin.scfg):
        try:
            await plugin.activate()
        except Exception:
            # leave nothing behind when the new storage cannot be used
            await call.svc.storage.modify(
                lambda cfg: storage_config.remove_storage(cfg, p["storage"])
            )
            raise
    return {"storage": p["storage"], "type": p["type"]}


@method(
    "GET",
    "/storage/{storage}",
    name="read",
    permissions=perm("/storage/{storage}", ["Datastore.Allocate"]),
    parameters={"storage": STORAGE_ID},
    returns={"type": "object"},
)
async def read_storage(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """One storage definition, with the file's digest."""
    return storage_config.storage_info(call.svc.storage.config(), p["storage"])


@method(
    "PUT",
    "/storage/{storage}",
    name="update",
    protected=True,
    permissions=perm("/storage", ["Datastore.Allocate"]),
    parameters=update_schema(),
    returns=obj(storage=STR, type=STR, config=opt({"type": "object"})),
)
async def update_storage(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Change a storage definition; ``delete`` removes options, ``digest`` guards edits."""
    sid = p["storage"]

    def change(cfg: SectionConfig) -> dict[str, Any]:
        return storage_config.update_storage(cfg, sid, p)

    section = await call.svc.storage.modify(change)
    return {"storage": sid, "type": section["type"]}


@method(
    "DELETE",
    "/storage/{storage}",
    name="delete",
    protected=True,
    permissions=perm("/storage", ["Datastore.Allocate"]),
    parameters={"storage": STORAGE_ID},
)
async def delete_storage(call: Call, p: dict[str, Any]) -> None:
    """Remove a storage definition (its volumes stay on disk, as upstream)."""
    if p["storage"] == "local":
        pass  # upstream allows removing 'local'; it is recreated on the next start
    await call.svc.storage.modify(lambda cfg: storage_config.remove_storage(cfg, p["storage"]))
