"""``/access/groups``: user groups (members are managed through the users' ``groups``).

As upstream, a group's member list is read-only here: users join and leave groups via
``POST/PUT /access/users`` (whose ``userid-group`` checks and the escalation guard in
``pyxis.access.guards`` apply).  Deleting a group drops its ACL entries.
"""

from __future__ import annotations

from typing import Any

from pyxis.access.usercfg import Group, UserCfg
from pyxis.api.common import ALL_USERS, STR, array_of, obj, opt, perm
from pyxis.api.context import Call
from pyxis.errors import NotFound, ParamError
from pyxis.schema.registry import method

GROUPID = {"type": "string", "format": "pve-groupid"}
GROUP_ITEM = obj(
    groupid=GROUPID,
    comment=opt(STR),
    users=opt(STR, format="pve-userid-list"),
)


@method(
    "GET",
    "/access/groups",
    name="index",
    permissions=ALL_USERS,
    returns=array_of(GROUP_ITEM),
)
async def list_groups(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Groups the caller may see (``Sys.Audit`` or ``Group.Allocate`` on the group)."""
    access = call.svc.access
    out = []
    for name, group in sorted(access.cfg().groups.items()):
        path = f"/access/groups/{name}"
        if not access.check(call.authid, path, ["Sys.Audit", "Group.Allocate"], any_=True):
            continue
        rec: dict[str, Any] = {"groupid": name}
        if group.comment:
            rec["comment"] = group.comment
        rec["users"] = ",".join(sorted(group.users))
        out.append(rec)
    return out


@method(
    "POST",
    "/access/groups",
    name="create_group",
    protected=True,
    permissions=perm("/access/groups", ["Group.Allocate"]),
    parameters={"groupid": GROUPID, "comment": opt(STR)},
)
async def create_group(call: Call, p: dict[str, Any]) -> None:
    """Create an empty group."""
    name = p["groupid"]

    def change(cfg: UserCfg) -> None:
        if name in cfg.groups:
            raise ParamError.one("groupid", f"group '{name}' already exists")
        cfg.groups[name] = Group(comment=p.get("comment", ""))

    await call.svc.access.modify(change)


@method(
    "GET",
    "/access/groups/{groupid}",
    name="read_group",
    permissions=perm("/access/groups", ["Sys.Audit", "Group.Allocate"], any_=True),
    parameters={"groupid": GROUPID},
    returns={
        "type": "object",
        "additionalProperties": 0,
        "properties": {
            "comment": opt(STR),
            "members": array_of({"type": "string", "format": "pve-userid", "maxLength": 64}),
        },
    },
)
async def read_group(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """A group's comment and members."""
    group = call.svc.access.cfg().groups.get(p["groupid"])
    if group is None:
        raise NotFound(f"group '{p['groupid']}' does not exist")
    out: dict[str, Any] = {"members": sorted(group.users)}
    if group.comment:
        out["comment"] = group.comment
    return out


@method(
    "PUT",
    "/access/groups/{groupid}",
    name="update_group",
    protected=True,
    permissions=perm("/access/groups", ["Group.Allocate"]),
    parameters={"groupid": GROUPID, "comment": opt(STR)},
)
async def update_group(call: Call, p: dict[str, Any]) -> None:
    """Change a group's comment."""
    name = p["groupid"]

    def change(cfg: UserCfg) -> None:
        group = cfg.groups.get(name)
        if group is None:
            raise NotFound(f"group '{name}' does not exist")
        if "comment" in p:
            group.comment = p["comment"]

    await call.svc.access.modify(change)


@method(
    "DELETE",
    "/access/groups/{groupid}",
    name="delete_group",
    protected=True,
    permissions=perm("/access/groups", ["Group.Allocate"]),
    parameters={"groupid": GROUPID},
)
async def delete_group(call: Call, p: dict[str, Any]) -> None:
    """Delete a group and its ACL entries (its members stay)."""
    name = p["groupid"]

    def change(cfg: UserCfg) -> None:
        if name not in cfg.groups:
            raise NotFound(f"group '{name}' does not exist")
        cfg.delete_group(name)

    await call.svc.access.modify(change)
