"""``/access/roles/{roleid}``: custom roles (create, read, change, delete).

Built-in roles are data in ``pyxis.access.roles`` and cannot be changed or deleted;
custom roles cannot take their names.  Privileges are checked against the catalogue.
Changing a role that ACL entries use goes through ``guards.check_role_change``
(``Permissions.Modify`` on ``/access`` and the added privileges held where granted).
The list (``GET /access/roles``) lives with the other access endpoints.
"""

from __future__ import annotations

from typing import Any

from pyxis.access import guards
from pyxis.access.roles import ALL_PRIVILEGES, is_builtin_role
from pyxis.access.usercfg import UserCfg, split_list
from pyxis.api.common import ALL_USERS, BOOL, STR, opt, perm
from pyxis.api.context import Call
from pyxis.errors import NotFound, ParamError
from pyxis.schema.registry import method

ROLEID = {"type": "string", "format": "pve-roleid"}
PRIVS = opt(STR, format="pve-priv-list")
SYS_MODIFY = perm("/access", ["Sys.Modify"])


def parse_privs(text: str | None) -> set[str]:
    """A privilege list, every name checked against the catalogue."""
    privs = set(split_list(text or ""))
    unknown = sorted(privs - ALL_PRIVILEGES)
    if unknown:
        raise ParamError.one("privs", f"invalid privilege '{unknown[0]}'")
    return privs


def _custom(roleid: str) -> None:
    if is_builtin_role(roleid):
        raise ParamError.one("roleid", f"cannot modify built-in role '{roleid}'")


@method(
    "POST",
    "/access/roles",
    name="create_role",
    protected=True,
    permissions=SYS_MODIFY,
    parameters={"roleid": ROLEID, "privs": PRIVS},
)
async def create_role(call: Call, p: dict[str, Any]) -> None:
    """Create a custom role."""
    roleid = p["roleid"]
    if is_builtin_role(roleid):
        raise ParamError.one("roleid", f"role '{roleid}' already exists (built-in)")
    privs = parse_privs(p.get("privs"))

    def change(cfg: UserCfg) -> None:
        if roleid in cfg.roles:
            raise ParamError.one("roleid", f"role '{roleid}' already exists")
        cfg.roles[roleid] = privs

    await call.svc.access.modify(change)


@method(
    "GET",
    "/access/roles/{roleid}",
    name="read_role",
    permissions=ALL_USERS,
    parameters={"roleid": ROLEID},
    returns={
        "type": "object",
        "additionalProperties": 0,
        "properties": {priv: opt(BOOL) for priv in sorted(ALL_PRIVILEGES)},
    },
)
async def read_role(call: Call, p: dict[str, Any]) -> dict[str, int]:
    """A role's privileges as ``{privilege: 1}``."""
    privs = call.svc.access.cfg().role_privs(p["roleid"])
    if privs is None:
        raise NotFound(f"role '{p['roleid']}' does not exist")
    return dict.fromkeys(sorted(privs), 1)


@method(
    "PUT",
    "/access/roles/{roleid}",
    name="update_role",
    protected=True,
    permissions=SYS_MODIFY,
    parameters={"roleid": ROLEID, "privs": PRIVS, "append": opt(BOOL, requires="privs")},
)
async def update_role(call: Call, p: dict[str, Any]) -> None:
    """Replace (or with ``append=1`` extend) a custom role's privileges."""
    roleid = p["roleid"]
    _custom(roleid)
    privs = parse_privs(p.get("privs"))
    current = call.svc.access.cfg().roles.get(roleid)
    if current is None:
        raise NotFound(f"role '{roleid}' does not exist")
    wanted = (current | privs) if p.get("append") else privs
    guards.check_role_change(call.svc.access.perms(), call.authid, roleid, wanted)

    def change(cfg: UserCfg) -> None:
        if roleid not in cfg.roles:
            raise NotFound(f"role '{roleid}' does not exist")
        cfg.roles[roleid] = (cfg.roles[roleid] | privs) if p.get("append") else set(privs)

    await call.svc.access.modify(change)


@method(
    "DELETE",
    "/access/roles/{roleid}",
    name="delete_role",
    protected=True,
    permissions=SYS_MODIFY,
    parameters={"roleid": ROLEID},
)
async def delete_role(call: Call, p: dict[str, Any]) -> None:
    """Delete a custom role and every ACL entry granting it."""
    roleid = p["roleid"]
    _custom(roleid)

    def change(cfg: UserCfg) -> None:
        if roleid not in cfg.roles:
            raise NotFound(f"role '{roleid}' does not exist")
        cfg.delete_role(roleid)

    await call.svc.access.modify(change)
