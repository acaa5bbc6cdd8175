"""``/access``: tickets, users, passwords, ACLs, roles and API tokens.

Groups, custom roles, realms, effective permissions and pools live in sibling modules
(``access_groups``, ``access_roles``, ``access_domains``, ``access_permissions``,
``pools``); every declaration carries upstream's permission check, and grants and
group joins pass the escalation guards of ``pyxis.access.guards``.
"""

from __future__ import annotations

from typing import Any

from pyxis.access import guards, ratelimit
from pyxis.access.roles import BUILTIN_ROLES
from pyxis.access.service import user_record
from pyxis.access.usercfg import Token, User, UserCfg, normalize_path, split_list
from pyxis.api.common import (
    ALL_USERS,
    BOOL,
    DELETE_LIST,
    INT,
    STR,
    TOKENID,
    USERID,
    WORLD,
    array_of,
    obj,
    opt,
    subdirs,
)
from pyxis.api.context import Call
from pyxis.errors import AuthError, NotFound, ParamError, PermissionDenied
from pyxis.schema.registry import method

EMAIL = {"type": "string", "format": "email-opt", "maxLength": 254}
KEYS = {"type": "string", "pattern": "[0-9a-zA-Z!=]{0,4096}"}
USER_PROPS = {
    "comment": opt(STR, maxLength=2048),
    "email": opt(EMAIL),
    "enable": opt(BOOL, default=1),
    "expire": opt(INT, minimum=0),
    "firstname": opt(STR, maxLength=1024),
    "lastname": opt(STR, maxLength=1024),
    "groups": opt(STR, format="pve-groupid-list"),
    "keys": opt(KEYS),
}
TOKEN_INFO = obj(
    comment=opt(STR),
    expire=opt(INT, minimum=0, default="same as user"),
    privsep=opt(BOOL, default=1),
)
SELF_OR_USERMOD = {"check": ["or", ["userid-param", "self"], ["userid-group", ["User.Modify"]]]}


@method("GET", "/access", name="index", permissions=ALL_USERS, returns=array_of(obj(subdir=STR)))
async def access_index(call: Call, p: dict[str, Any]) -> list[dict[str, str]]:
    """Directory index."""
    return subdirs(
        "acl",
        "domains",
        "groups",
        "openid",
        "password",
        "permissions",
        "roles",
        "tfa",
        "ticket",
        "users",
    )


@method(
    "POST",
    "/access/ticket",
    name="create_ticket",
    permissions=WORLD,
    protected=True,
    allowtoken=False,
    parameters={
        "username": {"type": "string", "maxLength": 64},
        "password": {"type": "string"},
        "realm": opt(STR, format="pve-realm", maxLength=32),
        "otp": opt(STR),
        "tfa-challenge": opt(STR),
        "path": opt(STR, maxLength=64, requires="privs"),
        "privs": opt(STR, format="pve-priv-list", maxLength=64, requires="path"),
        "new-format": opt(BOOL, default=1),
    },
    returns=obj(username=STR, ticket=opt(STR), CSRFPreventionToken=opt(STR), clustername=opt(STR)),
)
async def create_ticket(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Log in: a ticket and CSRF token for valid credentials (or renew a ticket)."""
    result = await ratelimit.guard(
        call.svc,
        p["username"],
        p.get("realm"),
        call.client,
        lambda: call.svc.access.login(
            p["username"],
            p["password"],
            p.get("realm"),
            otp=p.get("otp"),
            tfa_challenge=p.get("tfa-challenge"),
        ),
    )
    if "path" in p:
        privs = split_list(p["privs"])
        if not call.svc.access.check(result["username"], p["path"], privs):
            raise AuthError("authentication failure")
        return {"username": result["username"]}
    return result


@method("GET", "/access/ticket", name="get_ticket", permissions=WORLD)
async def get_ticket(call: Call, p: dict[str, Any]) -> None:
    """Dummy, so that clients can probe the login endpoint."""
    return None


@method(
    "PUT",
    "/access/password",
    name="change_password",
    protected=True,
    allowtoken=False,
    permissions={
        "check": [
            "or",
            ["userid-param", "self"],
            ["and", ["userid-param", "Realm.AllocateUser"], ["userid-group", ["User.Modify"]]],
        ]
    },
    parameters={
        "userid": USERID,
        "password": {"type": "string", "minLength": 8, "maxLength": 64},
        "confirmation-password": opt(STR, minLength=5, maxLength=64),
    },
)
async def change_password(call: Call, p: dict[str, Any]) -> None:
    """Set a user's password (realm pve)."""
    confirm = p.get("confirmation-password")
    needs_confirm = confirm is not None and not call.is_root and call.tokenid is None
    if needs_confirm and not call.svc.access.check_password(call.user, str(confirm)):
        raise PermissionDenied("confirmation password is wrong")
    await call.svc.access.set_password(p["userid"], p["password"])


def _apply_groups(cfg: UserCfg, userid: str, groups: str | None, append: bool) -> None:
    if groups is None:
        return
    wanted = set(split_list(groups))
    missing = sorted(g for g in wanted if g not in cfg.groups)
    if missing:
        raise ParamError.one("groups", f"no such group '{missing[0]}'")
    for name, group in cfg.groups.items():
        if name in wanted:
            group.users.add(userid)
        elif not append:
            group.users.discard(userid)


def _set_user_fields(user: User, p: dict[str, Any]) -> None:
    for key in ("firstname", "lastname", "email", "comment", "keys"):
        if key in p:
            setattr(user, key, p[key])
    if "enable" in p:
        user.enable = bool(p["enable"])
    if "expire" in p:
        user.expire = int(p["expire"])


@method(
    "GET",
    "/access/users",
    name="index",
    permissions=ALL_USERS,
    protected=True,
    parameters={"enabled": opt(BOOL), "full": opt(BOOL, default=0)},
    returns=array_of(obj(userid=STR, **USER_PROPS, tokens=opt(array_of(TOKEN_INFO)))),
)
async def list_users(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Users the caller may see (``User.Modify`` or ``Sys.Audit`` on /access/groups)."""
    cfg = call.svc.access.cfg()
    audit = call.svc.access.check(
        call.authid, "/access/groups", ["User.Modify", "Sys.Audit"], any_=True
    )
    out = []
    for userid in sorted(cfg.users):
        user = cfg.users[userid]
        if not audit and userid != call.user:
            continue
        if "enabled" in p and int(user.enable) != p["enabled"]:
            continue
        rec = user_record(userid, user)
        groups = sorted(cfg.groups_of(userid))
        if groups:
            rec["groups"] = ",".join(groups)
        rec["realm-type"] = userid.rpartition("@")[2]
        if p.get("full"):
            rec["tokens"] = [_token_info(name, tok) for name, tok in sorted(user.tokens.items())]
        out.append(rec)
    return out


@method(
    "POST",
    "/access/users",
    name="create_user",
    protected=True,
    permissions={
        "check": [
            "and",
            ["userid-param", "Realm.AllocateUser"],
            ["userid-group", ["User.Modify"], "groups_param", "create"],
        ]
    },
    parameters={"userid": USERID, **USER_PROPS, "password": opt(STR, minLength=8, maxLength=64)},
)
async def create_user(call: Call, p: dict[str, Any]) -> None:
    """Create a user (and set its password, for realm pve)."""
    userid = p["userid"]
    realm = userid.rpartition("@")[2]
    if not call.svc.realms.exists(realm):
        raise ParamError.one("userid", f"domain '{realm}' does not exist")
    if "password" in p and realm != "pve":
        raise ParamError.one("password", "a password can only be set for realm 'pve' users")
    guards.check_group_join(
        call.svc.access.perms(), call.authid, userid, split_list(p.get("groups", ""))
    )

    def change(cfg: UserCfg) -> None:
        if userid in cfg.users:
            raise ParamError.one("userid", f"user '{userid}' already exists")
        user = User()
        _set_user_fields(user, p)
        cfg.users[userid] = user
        _apply_groups(cfg, userid, p.get("groups"), append=True)

    await call.svc.access.modify(change)
    if "password" in p:
        await call.svc.access.set_password(userid, p["password"])


@method(
    "GET",
    "/access/users/{userid}",
    name="read_user",
    permissions={"check": ["userid-group", ["User.Modify", "Sys.Audit"]]},
    parameters={"userid": USERID},
    returns={
        "type": "object",
        "additionalProperties": 0,
        "properties": {
            **USER_PROPS,
            "groups": opt(array_of({"type": "string", "format": "pve-groupid"})),
            "tokens": opt({"type": "object"}),
        },
    },
)
async def read_user(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """One user's settings, groups and tokens."""
    cfg = call.svc.access.cfg()
    user = cfg.users.get(p["userid"])
    if user is None:
        raise NotFound(f"no such user ('{p['userid']}')")
    rec = user_record(p["userid"], user)
    del rec["userid"]
    rec["groups"] = sorted(cfg.groups_of(p["userid"]))
    rec["tokens"] = {name: _token_info(None, tok) for name, tok in sorted(user.tokens.items())}
    return rec


@method(
    "PUT",
    "/access/users/{userid}",
    name="update_user",
    protected=True,
    permissions={"check": ["userid-group", ["User.Modify"], "groups_param", "update"]},
    parameters={"userid": USERID, **USER_PROPS, "append": opt(BOOL, requires="groups")},
)
async def update_user(call: Call, p: dict[str, Any]) -> None:
    """Change a user's settings or groups."""
    userid = p["userid"]
    guards.check_group_join(
        call.svc.access.perms(), call.authid, userid, split_list(p.get("groups", ""))
    )

    def change(cfg: UserCfg) -> None:
        user = cfg.users.get(userid)
        if user is None:
            raise ParamError.one("userid", f"no such user ('{userid}')")
        _set_user_fields(user, p)
        _apply_groups(cfg, userid, p.get("groups"), append=bool(p.get("append")))

    await call.svc.access.modify(change)


@method(
    "DELETE",
    "/access/users/{userid}",
    name="delete_user",
    protected=True,
    permissions={
        "check": ["and", ["userid-param", "Realm.AllocateUser"], ["userid-group", ["User.Modify"]]]
    },
    parameters={"userid": USERID},
)
async def delete_user(call: Call, p: dict[str, Any]) -> None:
    """Delete a user with its tokens, ACL entries and group memberships."""
    userid = p["userid"]
    if userid == "root@pam":
        raise ParamError.one("userid", "the root@pam user cannot be deleted")

    def change(cfg: UserCfg) -> None:
        if userid not in cfg.users:
            raise ParamError.one("userid", f"no such user ('{userid}')")
        cfg.delete_user(userid)

    await call.svc.access.modify(change)
    await call.svc.access.drop_secrets(userid)


# --- ACLs -----------------------------------------------------------------------

ACL_ITEM = {
    "type": "object",
    "additionalProperties": 0,
    "properties": {
        "path": STR,
        "propagate": opt(BOOL, default=1),
        "roleid": STR,
        "type": {"type": "string", "enum": ["user", "group", "token"]},
        "ugid": STR,
    },
}


@method("GET", "/access/acl", name="read_acl", permissions=ALL_USERS, returns=array_of(ACL_ITEM))
async def read_acl(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """ACL entries on paths where the caller holds ``Sys.Audit`` or ``Permissions.Modify``."""
    cfg = call.svc.access.cfg()
    out = []
    for path in sorted(cfg.acls):
        if not call.svc.access.check(
            call.authid, path, ["Sys.Audit", "Permissions.Modify"], any_=True
        ):
            continue
        acl = cfg.acls[path]
        for kind, table in (("group", acl.groups), ("user", acl.users), ("token", acl.tokens)):
            for ugid in sorted(table):
                for role, propagate in sorted(table[ugid].items()):
                    out.append(
                        {
                            "path": path,
                            "type": kind,
                            "ugid": ugid,
                            "roleid": role,
                            "propagate": int(propagate),
                        }
                    )
    return out


@method(
    "PUT",
    "/access/acl",
    name="update_acl",
    protected=True,
    permissions={"check": ["perm-modify", "{path}"]},
    parameters={
        "path": STR,
        "roles": {"type": "string", "format": "pve-roleid-list"},
        "users": opt(STR, format="pve-userid-list"),
        "groups": opt(STR, format="pve-groupid-list"),
        "tokens": opt(STR, format="pve-tokenid-list"),
        "propagate": opt(BOOL, default=1),
        "delete": opt(BOOL),
    },
)
async def update_acl(call: Call, p: dict[str, Any]) -> None:
    """Grant (or with ``delete=1`` revoke) roles on a path to users, groups or tokens."""
    path = normalize_path(p["path"])
    if path is None:
        raise ParamError.one("path", f"invalid ACL path '{p['path']}'")
    roles = split_list(p["roles"])
    users = split_list(p.get("users", ""))
    groups = split_list(p.get("groups", ""))
    tokens = split_list(p.get("tokens", ""))
    if not (users or groups or tokens):
        raise ParamError.one("users", "no users, groups or tokens specified")
    delete, propagate = bool(p.get("delete")), bool(p.get("propagate", 1))
    perms = call.svc.access.perms()
    if not delete:
        # users, groups and tokens alike: only what the caller holds on the path
        guards.check_grant(perms, call.authid, path, roles)

    def change(cfg: UserCfg) -> None:
        bad = {}
        for role in roles:
            if cfg.role_privs(role) is None:
                bad["roles"] = f"role '{role}' does not exist"
        for u in users:
            if u not in cfg.users:
                bad["users"] = f"user '{u}' does not exist"
        for g in groups:
            if g not in cfg.groups:
                bad["groups"] = f"group '{g}' does not exist"
        for t in tokens:
            if cfg.token_of(t) is None:
                bad["tokens"] = f"token '{t}' does not exist"
        if bad:
            raise ParamError(bad)
        acl = cfg.acl(path)
        for table, ids in ((acl.users, users), (acl.groups, groups), (acl.tokens, tokens)):
            for ugid in ids:
                grants = table.setdefault(ugid, {})
                for role in roles:
                    if delete:
                        grants.pop(role, None)
                    else:
                        grants[role] = propagate
                if not grants:
                    del table[ugid]
        if acl.is_empty():
            del cfg.acls[path]

    await call.svc.access.modify(change)


@method(
    "GET",
    "/access/roles",
    name="index",
    permissions=ALL_USERS,
    returns=array_of(
        obj(
            roleid={"type": "string", "format": "pve-roleid"},
            privs=opt(STR, format="pve-priv-list"),
            special=opt(BOOL, default=0),
        )
    ),
)
async def list_roles(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Built-in and custom roles with their privileges."""
    cfg = call.svc.access.cfg()
    out = [
        {"roleid": name, "privs": ",".join(sorted(privs)), "special": 1}
        for name, privs in sorted(BUILTIN_ROLES.items())
    ]
    out += [
        {"roleid": name, "privs": ",".join(sorted(privs)), "special": 0}
        for name, privs in sorted(cfg.roles.items())
    ]
    return out


# --- API tokens -------------------------------------------------------------------


def _token_info(name: str | None, tok: Token) -> dict[str, Any]:
    out: dict[str, Any] = {"privsep": int(tok.privsep), "expire": tok.expire}
    if tok.comment:
        out["comment"] = tok.comment
    if name is not None:
        out["tokenid"] = name
    return out


def _get_token(cfg: UserCfg, userid: str, tokenid: str) -> Token:
    user = cfg.users.get(userid)
    if user is None:
        raise ParamError.one("userid", f"no such user ('{userid}')")
    tok = user.tokens.get(tokenid)
    if tok is None:
        raise NotFound(f"no such token '{tokenid}' for user '{userid}'")
    return tok


@method(
    "GET",
    "/access/users/{userid}/token",
    name="token_index",
    permissions=SELF_OR_USERMOD,
    parameters={"userid": USERID},
    returns=array_of(
        obj(
            tokenid=TOKENID,
            comment=opt(STR),
            expire=opt(INT, minimum=0, default="same as user"),
            privsep=opt(BOOL, default=1),
        )
    ),
)
async def list_tokens(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """A user's API tokens."""
    user = call.svc.access.cfg().users.get(p["userid"])
    if user is None:
        raise ParamError.one("userid", f"no such user ('{p['userid']}')")
    return [_token_info(name, tok) for name, tok in sorted(user.tokens.items())]


@method(
    "GET",
    "/access/users/{userid}/token/{tokenid}",
    name="read_token",
    permissions=SELF_OR_USERMOD,
    parameters={"userid": USERID, "tokenid": TOKENID},
    returns=TOKEN_INFO,
)
async def read_token(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """One API token's settings."""
    return _token_info(None, _get_token(call.svc.access.cfg(), p["userid"], p["tokenid"]))


@method(
    "POST",
    "/access/users/{userid}/token/{tokenid}",
    name="generate_token",
    protected=True,
    permissions=SELF_OR_USERMOD,
    parameters={
        "userid": USERID,
        "tokenid": TOKENID,
        "comment": opt(STR),
        "expire": opt(INT, minimum=0, default="same as user"),
        "privsep": opt(BOOL, default=1),
    },
    returns={
        "type": "object",
        "additionalProperties": 0,
        "properties": {"full-tokenid": STR, "info": TOKEN_INFO, "value": STR},
    },
)
async def generate_token(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Create an API token; its secret is returned once and never shown again."""
    userid, name = p["userid"], p["tokenid"]
    full = f"{userid}!{name}"
    tok = Token(
        expire=int(p.get("expire", 0) or 0),
        privsep=bool(p.get("privsep", 1)),
        comment=p.get("comment", ""),
    )

    def change(cfg: UserCfg) -> None:
        user = cfg.users.get(userid)
        if user is None:
            raise ParamError.one("userid", f"no such user ('{userid}')")
        if name in user.tokens:
            raise ParamError.one("tokenid", f"token '{name}' already exists for user '{userid}'")
        if user.expire and (not tok.expire or tok.expire > user.expire):
            tok.expire = user.expire
        user.tokens[name] = tok

    await call.svc.access.modify(change)
    value = await call.svc.access.new_token_secret(full)
    return {"full-tokenid": full, "info": _token_info(None, tok), "value": value}


@method(
    "PUT",
    "/access/users/{userid}/token/{tokenid}",
    name="update_token_info",
    protected=True,
    permissions=SELF_OR_USERMOD,
    parameters={
        "userid": USERID,
        "tokenid": TOKENID,
        "comment": opt(STR),
        "expire": opt(INT, minimum=0, default="same as user"),
        "privsep": opt(BOOL, default=1),
        "delete": DELETE_LIST,
    },
    returns=TOKEN_INFO,
)
async def update_token(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Change an API token's comment, expiry or privilege separation."""
    result: dict[str, Any] = {}

    def change(cfg: UserCfg) -> None:
        tok = _get_token(cfg, p["userid"], p["tokenid"])
        for key in split_list(p.get("delete", "")):
            if key == "comment":
                tok.comment = ""
            elif key == "expire":
                tok.expire = 0
            elif key == "privsep":
                tok.privsep = True
            else:
                raise ParamError.one("delete", f"cannot delete '{key}'")
        if "comment" in p:
            tok.comment = p["comment"]
        if "expire" in p:
            tok.expire = int(p["expire"])
        if "privsep" in p:
            tok.privsep = bool(p["privsep"])
        result.update(_token_info(None, tok))

    await call.svc.access.modify(change)
    return result


@method(
    "DELETE",
    "/access/users/{userid}/token/{tokenid}",
    name="remove_token",
    protected=True,
    permissions=SELF_OR_USERMOD,
    parameters={"userid": USERID, "tokenid": TOKENID},
)
async def remove_token(call: Call, p: dict[str, Any]) -> None:
    """Delete an API token and its ACL entries."""
    full = f"{p['userid']}!{p['tokenid']}"

    def change(cfg: UserCfg) -> None:
        _get_token(cfg, p["userid"], p["tokenid"])
        cfg.delete_token(full)

    await call.svc.access.modify(change)
    await call.svc.access.drop_secrets(p["userid"], p["tokenid"])
