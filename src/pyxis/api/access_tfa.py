"""``/access/tfa``: users' second factors (TOTP, WebAuthn, recovery keys).

Declarations follow upstream: users manage their own entries, ``User.Modify`` on a
user's groups manages theirs, ``Sys.Audit`` may read.  Changes need the caller's own
password (except for root@pam), and only root@pam may touch root@pam's factors, so a
stolen ticket alone cannot replace a victim's second factor.
"""

from __future__ import annotations

from typing import Any

from pyxis.access.tfa.store import ALL_TYPES, find_entry, list_entries
from pyxis.access.tfa.store import delete_entry as drop_entry
from pyxis.api.common import ALL_USERS, BOOL, INT, STR, USERID, array_of, obj, opt
from pyxis.api.context import Call
from pyxis.errors import NotFound, ParamError, PermissionDenied
from pyxis.schema.registry import method

TFA_TYPE = {"type": "string", "enum": list(ALL_TYPES)}
ENTRY = obj(id=STR, type=TFA_TYPE, description=STR, created=INT, enable=opt(BOOL, default=1))
PASSWORD = opt(STR, minLength=5, maxLength=64)
READ = {"check": ["or", ["userid-param", "self"], ["userid-group", ["User.Modify", "Sys.Audit"]]]}
MODIFY = {"check": ["or", ["userid-param", "self"], ["userid-group", ["User.Modify"]]]}


async def _confirm(call: Call, userid: str, password: str | None) -> None:
    """Upstream's ``root_permission_check``: re-authentication for TFA changes."""
    if userid not in call.svc.access.cfg().users and userid != "root@pam":
        raise NotFound(f"no such user ('{userid}')")
    if userid == "root@pam" and not call.is_root:
        raise PermissionDenied()
    if call.is_root:
        return
    if password is None:
        raise ParamError.one("password", "password is required to modify TFA data")
    if not await call.svc.access.authenticate_user(call.user, password):
        raise PermissionDenied("authentication failure")


@method(
    "GET",
    "/access/tfa",
    name="list_tfa",
    permissions=ALL_USERS,
    protected=True,
    returns=array_of(obj(userid=STR, entries=array_of(ENTRY))),
)
async def list_tfa(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Second factors of every user the caller may see."""
    cfg = call.svc.access.tfa.cfg.load()
    see_all = call.svc.access.check(
        call.authid, "/access/groups", ["User.Modify", "Sys.Audit"], any_=True
    )
    return [
        {"userid": userid, "entries": list_entries(cfg, userid)}
        for userid in sorted(cfg["users"])
        if see_all or userid == call.user
    ]


@method(
    "GET",
    "/access/tfa/{userid}",
    name="list_user_tfa",
    permissions=READ,
    protected=True,
    parameters={"userid": USERID},
    returns=array_of(ENTRY),
)
async def list_user_tfa(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Second factors of one user."""
    return list_entries(call.svc.access.tfa.cfg.load(), p["userid"])


@method(
    "POST",
    "/access/tfa/{userid}",
    name="add_tfa_entry",
    permissions=MODIFY,
    protected=True,
    allowtoken=False,
    parameters={
        "userid": USERID,
        "type": TFA_TYPE,
        "description": opt(STR, maxLength=255),
        "totp": opt(STR),
        "value": opt(STR),
        "challenge": opt(STR),
        "password": PASSWORD,
    },
    returns=obj(id=STR, challenge=opt(STR), recovery=opt(array_of(STR))),
)
async def add_tfa_entry(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Add a factor; WebAuthn takes two calls (challenge, then the authenticator's answer)."""
    await _confirm(call, p["userid"], p.get("password"))
    return await call.svc.access.tfa.add(p["userid"], p["type"], p)


@method(
    "GET",
    "/access/tfa/{userid}/{id}",
    name="get_tfa_entry",
    permissions=READ,
    protected=True,
    parameters={"userid": USERID, "id": STR},
    returns=ENTRY,
)
async def get_tfa_entry(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """One factor (without its secret)."""
    cfg = call.svc.access.tfa.cfg.load()
    find_entry(cfg, p["userid"], p["id"])
    return next(e for e in list_entries(cfg, p["userid"]) if e["id"] == p["id"])


@method(
    "PUT",
    "/access/tfa/{userid}/{id}",
    name="update_tfa_entry",
    permissions=MODIFY,
    protected=True,
    allowtoken=False,
    parameters={
        "userid": USERID,
        "id": STR,
        "description": opt(STR, maxLength=255),
        "enable": opt(BOOL),
        "password": PASSWORD,
    },
)
async def update_tfa_entry(call: Call, p: dict[str, Any]) -> None:
    """Enable, disable or describe a factor."""
    await _confirm(call, p["userid"], p.get("password"))

    def change(cfg: dict[str, Any]) -> None:
        _kind, item = find_entry(cfg, p["userid"], p["id"])
        if "description" in p:
            item["description"] = p["description"]
        if "enable" in p:
            item["enable"] = bool(p["enable"])

    await call.svc.access.tfa.cfg.modify(change)


@method(
    "DELETE",
    "/access/tfa/{userid}/{id}",
    name="delete_tfa",
    permissions=MODIFY,
    protected=True,
    allowtoken=False,
    parameters={"userid": USERID, "id": STR, "password": PASSWORD},
)
async def delete_tfa(call: Call, p: dict[str, Any]) -> None:
    """Remove a factor."""
    await _confirm(call, p["userid"], p.get("password"))
    await call.svc.access.tfa.cfg.modify(lambda cfg: drop_entry(cfg, p["userid"], p["id"]))


@method(
    "GET",
    "/access/users/{userid}/tfa",
    name="read_user_tfa_type",
    permissions=READ,
    protected=True,
    parameters={"userid": USERID, "multiple": opt(BOOL, default=0)},
    returns={
        "type": "object",
        "additionalProperties": 0,
        "properties": {
            "realm": opt({"type": "string", "enum": ["oath", "yubico"]}),
            "types": opt(array_of(STR)),
            "user": opt({"type": "string", "enum": ["oath", "u2f"]}),
        },
    },
)
async def read_user_tfa_type(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Which kinds of factors a user has (and what the realm enforces)."""
    userid = p["userid"]
    if userid not in call.svc.access.cfg().users and userid != "root@pam":
        raise NotFound(f"no such user ('{userid}')")
    out: dict[str, Any] = {}
    realm_cfg = call.svc.realms.get(userid.rpartition("@")[2]) or {}
    if realm_cfg.get("tfa"):
        out["realm"] = str(realm_cfg["tfa"]).split(",")[0].removeprefix("type=")
    types = sorted({e["type"] for e in list_entries(call.svc.access.tfa.cfg.load(), userid)})
    if p.get("multiple"):
        out["types"] = types
    elif types:
        out["user"] = "oath" if "totp" in types else "u2f"
    return out
