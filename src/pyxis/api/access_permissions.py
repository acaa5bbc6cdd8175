"""``GET /access/permissions``: effective privileges of a user or token, per path.

Without ``path`` the answer covers every path that matters for the subject: the
top-level trees, every path carrying an ACL entry, and the guests and storages of
pools.  Callers may always ask about themselves and their own tokens; asking about
anybody else needs ``Sys.Audit`` on ``/access``.
"""

from __future__ import annotations

from typing import Any

from pyxis.access.usercfg import normalize_path
from pyxis.api.common import ALL_USERS, STR, opt
from pyxis.api.context import Call
from pyxis.errors import ParamError, PermissionDenied
from pyxis.schema.registry import method

AUTHID_PATTERN = (
    "(?^:^(?^:[^\\s:/]+)\\@(?^:[A-Za-z][A-Za-z0-9\\.\\-_]+)(?:!(?^:[A-Za-z][A-Za-z0-9\\.\\-_]+))?$)"
)
BASE_PATHS = (
    "/",
    "/access",
    "/access/groups",
    "/mapping",
    "/nodes",
    "/pool",
    "/sdn",
    "/storage",
    "/vms",
)


def may_inspect(call: Call, target: str) -> bool:
    """Self, one's own tokens (from a ticket), or anybody with Sys.Audit on /access."""
    if target == call.authid:
        return True
    if call.tokenid is None and target.partition("!")[0] == call.user and "!" in target:
        return True
    return call.svc.access.check(call.authid, "/access", ["Sys.Audit"])


def interesting_paths(call: Call) -> list[str]:
    cfg = call.svc.access.cfg()
    paths = set(BASE_PATHS) | set(cfg.acls)
    for poolid, pool in cfg.pools.items():
        paths.add(f"/pool/{poolid}")
        paths.update(f"/vms/{vmid}" for vmid in pool.vms)
        paths.update(f"/storage/{sid}" for sid in pool.storage)
    return sorted(paths)


@method(
    "GET",
    "/access/permissions",
    name="permissions",
    permissions=ALL_USERS,
    parameters={
        "userid": opt(STR, pattern=AUTHID_PATTERN),
        "path": opt(STR),
    },
    returns={"type": "object"},
)
async def permissions(call: Call, p: dict[str, Any]) -> dict[str, dict[str, int]]:
    """``{path: {privilege: 1}}`` for the caller or ``userid``."""
    target = p.get("userid") or call.authid
    if not may_inspect(call, target):
        raise PermissionDenied("Permission check failed (/access, Sys.Audit)")
    access = call.svc.access
    if "path" in p:
        path = normalize_path(p["path"])
        if path is None:
            raise ParamError.one("path", f"invalid ACL path '{p['path']}'")
        return {path: dict.fromkeys(sorted(access.perms().privs(target, path)), 1)}
    out: dict[str, dict[str, int]] = {}
    for path in interesting_paths(call):
        held = access.perms().privs(target, path)
        if held:
            out[path] = dict.fromkeys(sorted(held), 1)
    return out
