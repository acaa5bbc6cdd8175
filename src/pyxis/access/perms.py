"""Effective privileges from ``user.cfg`` and evaluation of endpoint permission declarations.

Privileges on a path come from the ACL entries on that path and on every ancestor,
walked from ``/`` downwards: the deepest path that has an applicable entry for the
subject wins outright; at one path, the subject's own entries win over its groups';
an entry with propagate=0 applies to its exact path only; a ``NoAccess`` grant wipes
every other role at its level.  VMs and storages in a pool additionally receive what the
subject holds on ``/pool/<id>``.  ``root@pam`` holds everything; disabled or expired
users and expired tokens hold nothing; a token with privilege separation holds the
intersection of its user's privileges and its own ACL grants.  ``evaluate`` interprets
the ``permissions`` objects of the API schema (``check`` expressions and ``user``
shortcuts) and raises ``ValueError`` on shapes it does not know, so a schema change
cannot silently turn into "allowed".
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pyxis.access import roles as builtin
from pyxis.access.usercfg import ROOT, UserCfg, normalize_path, split_list

CAP_GROUPS = ("vms", "access", "storage", "nodes", "sdn", "dc", "mapping")
_CAP_PATHS = ("/", "/nodes", "/access/groups", "/vms", "/storage", "/sdn", "/mapping")
_CAP_MATCH = {
    "vms": re.compile(r"^(VM\.|Permissions\.Modify$)"),
    "access": re.compile(r"^(User\.|Group\.|Permissions\.Modify$)"),
    "storage": re.compile(r"^(Datastore\.|Permissions\.Modify$)"),
    "nodes": re.compile(r"^(Sys\.|Permissions\.Modify$)"),
    "sdn": re.compile(r"^(SDN\.|Permissions\.Modify$)"),
    "dc": re.compile(r"^(Sys\.Audit$|SDN\.)"),
    "mapping": re.compile(r"^(Mapping\.|Permissions\.Modify$)"),
}
# modifying ACLs below these trees also needs the right to allocate what lives there
_MODIFY_EXTRA = (
    (re.compile(r"^/storage/.+"), "Datastore.Allocate"),
    (re.compile(r"^/vms/.+"), "VM.Allocate"),
    (re.compile(r"^/pool/.+"), "Pool.Allocate"),
    (re.compile(r"^/sdn/(zones|vnets)/.+"), "SDN.Allocate"),
)
_TEMPLATE_RE = re.compile(r"\{([A-Za-z0-9_-]+)\}")
_CACHE_LIMIT = 20000


class Permissions:
    """Privilege queries over one parsed ``user.cfg``; rebuild it when the file changes.

    ``clock`` supplies the time used for user and token expiry.
    """

    def __init__(self, cfg: UserCfg, clock: Callable[[], float] = time.time) -> None:
        self.cfg = cfg
        self._clock = clock
        self._cache: dict[tuple[str, str], frozenset[str]] = {}

    # -- privileges ---------------------------------------------------------------------

    def privs(self, authid: str, path: str) -> frozenset[str]:
        norm = normalize_path(path)
        if norm is None:
            return frozenset()
        if authid == ROOT:
            return builtin.ALL_PRIVILEGES
        now = int(self._clock())
        if "!" in authid:
            if not self.cfg.token_valid(authid, now):
                return frozenset()
            userid = authid.partition("!")[0]
            user_privs = self.privs(userid, norm)
            token = self.cfg.token_of(authid)
            if token is None or not token.privsep:
                return user_privs
            return user_privs & self._with_pools(authid, norm)
        if not self.cfg.user_enabled(authid, now):
            return frozenset()
        return self._with_pools(authid, norm)

    def check(self, authid: str, path: str, privs: Iterable[str], any: bool = False) -> bool:
        wanted = set(privs)
        held = self.privs(authid, path)
        return bool(wanted & held) if any else wanted <= held

    def _with_pools(self, subject: str, path: str) -> frozenset[str]:
        result = self._acl_privs(subject, path)
        for pool in self._pools_of(path):
            result |= self._acl_privs(subject, f"/pool/{pool}")
        return result

    def _pools_of(self, path: str) -> list[str]:
        if m := re.fullmatch(r"/vms/(\d+)", path):
            pool = self.cfg.pool_of_vm(int(m.group(1)))
            return [] if pool is None else [pool]
        if m := re.fullmatch(r"/storage/([^/]+)", path):
            return self.cfg.pools_of_storage(m.group(1))
        return []

    def _acl_privs(self, subject: str, path: str) -> frozenset[str]:
        key = (subject, path)
        hit = self._cache.get(key)
        if hit is None:
            granted: set[str] = set()
            for role in self.roles(subject, path):
                granted |= self.cfg.role_privs(role) or frozenset()
            hit = frozenset(granted)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = hit
        return hit

    def roles(self, subject: str, path: str) -> dict[str, bool]:
        """Roles (with their propagate flag) a user or token holds on ``path`` from ACLs."""
        is_token = "!" in subject
        groups = set() if is_token else self.cfg.groups_of(subject)
        parts = [p for p in path.split("/") if p]
        prefixes = ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]
        current: dict[str, bool] = {}
        for depth, prefix in enumerate(prefixes):
            entry = self.cfg.acls.get(prefix)
            if entry is None:
                continue
            exact = depth == len(prefixes) - 1
            own = (entry.tokens if is_token else entry.users).get(subject, {})
            found = {role: prop for role, prop in own.items() if exact or prop}
            if not found:
                for group in sorted(groups & entry.groups.keys()):
                    for role, prop in entry.groups[group].items():
                        if exact or prop:
                            found[role] = found.get(role, False) or prop
            if found:
                if builtin.NO_ACCESS in found:
                    found = {builtin.NO_ACCESS: found[builtin.NO_ACCESS]}
                current = found
        return current

    def check_perm_modify(self, authid: str, path: str | None) -> bool:
        if not path:
            return self.check(authid, "/access", ["Permissions.Modify"])
        norm = normalize_path(path)
        if norm is None:
            return False
        wanted = ["Permissions.Modify"]
        wanted += [priv for regex, priv in _MODIFY_EXTRA if regex.match(norm)]
        return self.check(authid, norm, wanted, any=True)

    # -- API permission declarations ---------------------------------------------------

    def evaluate(
        self, perm: Mapping[str, Any] | None, authid: str | None, params: Mapping[str, Any]
    ) -> bool:
        """Whether ``authid`` (None = not logged in) may call an endpoint declaring ``perm``.

        No declaration means root only; ``{"user": "all"}`` admits any authenticated
        caller even when a ``check`` is also given (the handler filters its output then).
        """
        validate_permission(perm)
        if perm is not None and perm.get("user") == "world":
            return True
        if authid is None:
            return False
        if authid == ROOT:
            return True
        if perm is None:
            return False
        if perm.get("user") == "all":
            return True
        check = perm.get("check")
        return check is not None and self._eval(check, authid, params)

    def _eval(self, expr: Sequence[Any], authid: str, params: Mapping[str, Any]) -> bool:
        kind, args = expr[0], expr[1:]
        if kind == "and":
            return all(self._eval(sub, authid, params) for sub in args)
        if kind == "or":
            return any(self._eval(sub, authid, params) for sub in args)
        if kind == "perm":
            options = _options(args[2:])
            required = options.get("require_param")
            if required is not None and params.get(required) in (None, ""):
                return False
            path = _fill(args[0], params)
            return path is not None and self.check(
                authid, path, args[1], any=bool(options.get("any"))
            )
        if kind == "perm-modify":
            path = _fill(args[0], params)
            return path is not None and self.check_perm_modify(authid, path)
        if kind == "userid-param":
            return self._userid_param(args[0], authid, params)
        if kind == "userid-group":
            return self._userid_group(args[0], _options(args[1:]), authid, params)
        raise ValueError(f"unknown permission check '{kind}'")

    def _userid_param(self, test: str, authid: str, params: Mapping[str, Any]) -> bool:
        userid = params.get("userid")
        if not isinstance(userid, str) or "@" not in userid:
            return False
        if test == "self":
            # a token is not its user: it must not manage the user's tokens or password
            return authid == userid
        realm = userid.rpartition("@")[2]
        return self.check(authid, f"/access/realm/{realm}", [test])

    def _userid_group(
        self, privs: list[str], options: dict[str, Any], authid: str, params: Mapping[str, Any]
    ) -> bool:
        userid = params.get("userid")
        if not isinstance(userid, str):
            return False
        if self.check(authid, "/access/groups", privs, any=True):
            return True
        allowed = {
            g for g in self.cfg.groups if self.check(authid, f"/access/groups/{g}", privs, any=True)
        }
        mode = options.get("groups_param")
        if mode is not None:
            raw = params.get("groups")
            requested = split_list(raw) if isinstance(raw, str) else []
            # a group-limited admin must place a new user in groups they manage
            if mode == "create" and not requested:
                return False
            if not set(requested) <= allowed:
                return False
            if mode == "create":
                return True
        if userid not in self.cfg.users:
            return False
        return bool(self.cfg.groups_of(userid) & allowed)

    # -- ticket capabilities -----------------------------------------------------------

    def compute_cap(self, authid: str) -> dict[str, dict[str, int]]:
        """Privileges grouped for the login response's ``cap`` object."""
        cap: dict[str, dict[str, int]] = {group: {} for group in CAP_GROUPS}
        for path in dict.fromkeys([*_CAP_PATHS, *sorted(self.cfg.acls)]):
            held = self.privs(authid, path)
            top = path.split("/")[1] or "dc"
            if top == "pool":
                for priv in held:
                    if priv.startswith("VM.") or priv == "Permissions.Modify":
                        cap["vms"][priv] = 1
                    if priv.startswith("Datastore.") or priv == "Permissions.Modify":
                        cap["storage"][priv] = 1
                continue
            match = _CAP_MATCH.get(top)
            if match is not None:
                for priv in held:
                    if match.match(priv):
                        cap[top][priv] = 1
        return {group: dict(sorted(privs.items())) for group, privs in cap.items()}


# -- declaration helpers --------------------------------------------------------------------


def _options(pairs: Sequence[Any]) -> dict[str, Any]:
    return {str(pairs[i]): pairs[i + 1] for i in range(0, len(pairs) - 1, 2)}


def _fill(template: str, params: Mapping[str, Any]) -> str | None:
    """Substitute ``{name}`` from params; None when a value is missing or not scalar."""
    missing = False

    def repl(m: re.Match[str]) -> str:
        nonlocal missing
        value = params.get(m.group(1))
        if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
            missing = True
            return ""
        return str(value)

    path = _TEMPLATE_RE.sub(repl, template)
    return None if missing else path


_OPTION_KEYS = {"perm": {"any", "require_param"}, "userid-group": {"groups_param"}}


def validate_permission(perm: Mapping[str, Any] | None) -> None:
    """Raise ValueError unless ``perm`` is a permission object this module understands."""
    if perm is None:
        return
    unknown = set(perm) - {"check", "user", "description"}
    if unknown:
        raise ValueError(f"unknown permission keys {sorted(unknown)}")
    if "user" in perm and perm["user"] not in ("all", "world"):
        raise ValueError(f"unknown permission user '{perm['user']}'")
    if "check" in perm:
        validate_check(perm["check"])


def validate_check(expr: Any) -> None:
    if not isinstance(expr, list | tuple) or not expr or not isinstance(expr[0], str):
        raise ValueError(f"malformed permission check {expr!r}")
    kind, args = expr[0], list(expr[1:])
    if kind in ("and", "or"):
        if not args:
            raise ValueError(f"empty '{kind}' permission check")
        for sub in args:
            validate_check(sub)
    elif kind == "perm":
        if len(args) < 2 or not isinstance(args[0], str):
            raise ValueError(f"malformed perm check {expr!r}")
        _validate_privs(args[1])
        _validate_options(kind, args[2:])
    elif kind == "perm-modify":
        if len(args) != 1 or not isinstance(args[0], str):
            raise ValueError(f"malformed perm-modify check {expr!r}")
    elif kind == "userid-param":
        if len(args) != 1 or (args[0] != "self" and args[0] not in builtin.ALL_PRIVILEGES):
            raise ValueError(f"malformed userid-param check {expr!r}")
    elif kind == "userid-group":
        if not args:
            raise ValueError(f"malformed userid-group check {expr!r}")
        _validate_privs(args[0])
        _validate_options(kind, args[1:])
        if dict(_options(args[1:])).get("groups_param", "create") not in ("create", "update"):
            raise ValueError(f"unknown groups_param in {expr!r}")
    else:
        raise ValueError(f"unknown permission check '{kind}'")


def _validate_privs(privs: Any) -> None:
    if not isinstance(privs, list | tuple) or not privs:
        raise ValueError(f"privilege list expected, got {privs!r}")
    for priv in privs:
        if priv not in builtin.ALL_PRIVILEGES:
            raise ValueError(f"unknown privilege '{priv}'")


def _validate_options(kind: str, pairs: Sequence[Any]) -> None:
    if len(pairs) % 2:
        raise ValueError(f"odd option list in '{kind}' check")
    unknown = set(_options(pairs)) - _OPTION_KEYS[kind]
    if unknown:
        raise ValueError(f"unknown '{kind}' options {sorted(unknown)}")
