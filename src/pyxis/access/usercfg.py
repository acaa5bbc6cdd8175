"""Model, parser and renderer for ``user.cfg`` and the private ``token.cfg``/``shadow.cfg``.

``user.cfg`` is a list of colon-separated records (``user:``, ``token:``, ``group:``,
``role:``, ``acl:``, ``pool:``), each ending with ``:``.  Free-text fields are
percent-encoded so that they cannot contain the separator.  Parsing is lenient in the
way upstream is: a record that names something missing (an unknown user in a group,
an unknown role in an ACL) is dropped with a message in ``UserCfg.warnings`` instead
of failing the whole file, because one bad line must not lock every user out.
Rendering is deterministic (sorted ids, users followed by their tokens, then groups,
pools, roles and ACLs) so that a file we wrote parses and renders back byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from pyxis.access import roles as builtin
from pyxis.schema import formats

ROOT = "root@pam"

_PATH_RE = re.compile(r"^[A-Za-z0-9.\-_/]+\Z")
# the bytes upstream leaves readable: printable ASCII except ':'; '%' is escaped too so
# that a literal percent sign survives a round trip
_TEXT_SAFE = "".join(chr(c) for c in range(0x20, 0x7F) if chr(c) not in ":%")


def encode_text(text: str) -> str:
    return quote(text, safe=_TEXT_SAFE)


def decode_text(text: str) -> str:
    return unquote(text, errors="replace")


def normalize_path(path: str) -> str | None:
    """Canonical ACL path (single slashes, leading '/', no trailing '/'), or None if bad."""
    if not path:
        return None
    path = "/" + "/".join(part for part in path.split("/") if part)
    return path if _PATH_RE.match(path) else None


def split_list(text: str) -> list[str]:
    return [item for item in re.split(r"[,;\s]+", text) if item]


@dataclass
class Token:
    expire: int = 0
    privsep: bool = True
    comment: str = ""


@dataclass
class User:
    enable: bool = True
    expire: int = 0
    firstname: str = ""
    lastname: str = ""
    email: str = ""
    comment: str = ""
    keys: str = ""
    tokens: dict[str, Token] = field(default_factory=dict)


@dataclass
class Group:
    users: set[str] = field(default_factory=set)
    comment: str = ""


@dataclass
class Pool:
    comment: str = ""
    vms: set[int] = field(default_factory=set)
    storage: set[str] = field(default_factory=set)


# role name -> propagate flag
RoleGrants = dict[str, bool]


@dataclass
class PathAcl:
    """Grants on one path, per kind of subject: subject id -> {role: propagate}."""

    users: dict[str, RoleGrants] = field(default_factory=dict)
    groups: dict[str, RoleGrants] = field(default_factory=dict)
    tokens: dict[str, RoleGrants] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not any((*self.users.values(), *self.groups.values(), *self.tokens.values()))


@dataclass
class UserCfg:
    users: dict[str, User] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    roles: dict[str, set[str]] = field(default_factory=dict)  # custom roles only
    acls: dict[str, PathAcl] = field(default_factory=dict)
    pools: dict[str, Pool] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def role_privs(self, role: str) -> frozenset[str] | None:
        if role in builtin.BUILTIN_ROLES:
            return builtin.BUILTIN_ROLES[role]
        privs = self.roles.get(role)
        return None if privs is None else frozenset(privs)

    def groups_of(self, userid: str) -> set[str]:
        return {name for name, group in self.groups.items() if userid in group.users}

    def pool_of_vm(self, vmid: int) -> str | None:
        return next((pid for pid, pool in self.pools.items() if vmid in pool.vms), None)

    def pools_of_storage(self, storage: str) -> list[str]:
        return sorted(pid for pid, pool in self.pools.items() if storage in pool.storage)

    def user_enabled(self, userid: str, now: int) -> bool:
        user = self.users.get(userid)
        return user is not None and user.enable and not (user.expire and user.expire < now)

    def token_of(self, full_tokenid: str) -> Token | None:
        userid, _, name = full_tokenid.partition("!")
        user = self.users.get(userid)
        return None if user is None else user.tokens.get(name)

    def token_valid(self, full_tokenid: str, now: int) -> bool:
        """The token exists, is not expired, and its user may log in."""
        token = self.token_of(full_tokenid)
        if token is None or (token.expire and token.expire < now):
            return False
        return self.user_enabled(full_tokenid.partition("!")[0], now)

    def acl(self, path: str) -> PathAcl:
        """The entry for ``path``, created empty if missing (empty ones are not rendered)."""
        return self.acls.setdefault(path, PathAcl())

    # -- removals keep references consistent -------------------------------------------

    def delete_user(self, userid: str) -> None:
        for name in list(self.users.get(userid, User()).tokens):
            self.delete_token(f"{userid}!{name}")
        self.users.pop(userid, None)
        for group in self.groups.values():
            group.users.discard(userid)
        for entry in self.acls.values():
            entry.users.pop(userid, None)
        self.prune_acls()

    def delete_token(self, full_tokenid: str) -> None:
        userid, _, name = full_tokenid.partition("!")
        if userid in self.users:
            self.users[userid].tokens.pop(name, None)
        for entry in self.acls.values():
            entry.tokens.pop(full_tokenid, None)
        self.prune_acls()

    def delete_group(self, name: str) -> None:
        self.groups.pop(name, None)
        for entry in self.acls.values():
            entry.groups.pop(name, None)
        self.prune_acls()

    def delete_role(self, role: str) -> None:
        self.roles.pop(role, None)
        for entry in self.acls.values():
            for subjects in (entry.users, entry.groups, entry.tokens):
                for grants in subjects.values():
                    grants.pop(role, None)
        self.prune_acls()

    def delete_pool(self, poolid: str) -> None:
        self.pools.pop(poolid, None)
        self.acls.pop(f"/pool/{poolid}", None)

    def prune_acls(self) -> None:
        """Drop subjects without roles and paths without subjects."""
        for entry in self.acls.values():
            for subjects in (entry.users, entry.groups, entry.tokens):
                for sid in [sid for sid, grants in subjects.items() if not grants]:
                    del subjects[sid]
        for path in [path for path, entry in self.acls.items() if entry.is_empty()]:
            del self.acls[path]


# -- user.cfg -------------------------------------------------------------------------------


def _int(text: str) -> int:
    return int(text) if text.isdigit() else 0


def _valid(check: formats.FormatFn, value: str) -> bool:
    try:
        check(value)
    except ValueError:
        return False
    return True


def parse_user_cfg(text: str) -> UserCfg:
    """Parse ``user.cfg``; records are applied users first so line order does not matter."""
    cfg = UserCfg()
    records: dict[str, list[list[str]]] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        kind, _, rest = line.partition(":")
        if kind not in ("user", "token", "group", "role", "acl", "pool"):
            cfg.warnings.append(f"line {lineno}: unknown record type '{kind}'")
            continue
        records.setdefault(kind, []).append([*rest.split(":"), "", "", "", "", "", "", "", ""])
    for f in records.get("user", []):
        _parse_user(cfg, f)
    # root@pam must always exist: it is the account that repairs everything else
    cfg.users.setdefault(ROOT, User())
    for f in records.get("token", []):
        _parse_token(cfg, f)
    for f in records.get("group", []):
        _parse_group(cfg, f)
    for f in records.get("role", []):
        _parse_role(cfg, f)
    for f in records.get("pool", []):
        _parse_pool(cfg, f)
    for f in records.get("acl", []):
        _parse_acl(cfg, f)
    cfg.prune_acls()
    return cfg


def _parse_user(cfg: UserCfg, f: list[str]) -> None:
    userid = f[0]
    if not _valid(formats.userid, userid):
        cfg.warnings.append(f"invalid user id '{userid}'")
        return
    cfg.users[userid] = User(
        enable=_int(f[1]) > 0,
        expire=_int(f[2]),
        firstname=decode_text(f[3]),
        lastname=decode_text(f[4]),
        email=decode_text(f[5]),
        comment=decode_text(f[6]),
        keys=decode_text(f[7]),
    )


def _parse_token(cfg: UserCfg, f: list[str]) -> None:
    full = f[0]
    userid, _, name = full.partition("!")
    if not _valid(formats.full_tokenid, full) or userid not in cfg.users:
        cfg.warnings.append(f"ignoring token '{full}': invalid id or unknown user")
        return
    token = Token(expire=_int(f[1]), privsep=_int(f[2]) > 0, comment=decode_text(f[3]))
    cfg.users[userid].tokens[name] = token


def _parse_group(cfg: UserCfg, f: list[str]) -> None:
    name = f[0]
    if not formats.ROLE_RE.match(name):
        cfg.warnings.append(f"invalid group name '{name}'")
        return
    group = Group(comment=decode_text(f[2]))
    for userid in split_list(f[1]):
        if userid in cfg.users:
            group.users.add(userid)
        else:
            cfg.warnings.append(f"group '{name}': ignoring unknown user '{userid}'")
    cfg.groups[name] = group


def _parse_role(cfg: UserCfg, f: list[str]) -> None:
    name = f[0]
    if builtin.is_builtin_role(name) or not formats.ROLE_RE.match(name):
        cfg.warnings.append(f"ignoring role '{name}': built-in or invalid name")
        return
    privs = set()
    for priv in split_list(f[1]):
        if priv in builtin.ALL_PRIVILEGES:
            privs.add(priv)
        else:
            cfg.warnings.append(f"role '{name}': ignoring unknown privilege '{priv}'")
    cfg.roles[name] = privs


def _parse_pool(cfg: UserCfg, f: list[str]) -> None:
    poolid = f[0]
    if not re.fullmatch(r"[A-Za-z0-9.\-_/]+", poolid):
        cfg.warnings.append(f"invalid pool id '{poolid}'")
        return
    pool = Pool(comment=decode_text(f[1]))
    for item in split_list(f[2]):
        if not item.isdigit():
            cfg.warnings.append(f"pool '{poolid}': ignoring invalid vmid '{item}'")
        elif (owner := cfg.pool_of_vm(int(item))) is not None:
            cfg.warnings.append(f"pool '{poolid}': vm {item} already belongs to '{owner}'")
        else:
            pool.vms.add(int(item))
    pool.storage.update(split_list(f[3]))
    cfg.pools[poolid] = pool


def _parse_acl(cfg: UserCfg, f: list[str]) -> None:
    propagate, path = _int(f[0]) > 0, normalize_path(f[1])
    if path is None:
        cfg.warnings.append(f"ignoring ACL with invalid path '{f[1]}'")
        return
    role_names = [r for r in split_list(f[3]) if cfg.role_privs(r) is not None]
    for unknown in set(split_list(f[3])) - set(role_names):
        cfg.warnings.append(f"ACL on '{path}': ignoring unknown role '{unknown}'")
    for subject in split_list(f[2]):
        if subject.startswith("@"):
            table, sid, known = cfg.acl(path).groups, subject[1:], subject[1:] in cfg.groups
        elif "!" in subject:
            table, sid, known = cfg.acl(path).tokens, subject, cfg.token_of(subject) is not None
        else:
            table, sid, known = cfg.acl(path).users, subject, subject in cfg.users
        if not known:
            cfg.warnings.append(f"ACL on '{path}': ignoring unknown subject '{subject}'")
            continue
        grants = table.setdefault(sid, {})
        for role in role_names:
            grants[role] = propagate


def render_user_cfg(cfg: UserCfg) -> str:
    out: list[str] = []
    for userid in sorted(cfg.users):
        u = cfg.users[userid]
        out.append(
            f"user:{userid}:{int(u.enable)}:{u.expire}:{encode_text(u.firstname)}:"
            f"{encode_text(u.lastname)}:{encode_text(u.email)}:{encode_text(u.comment)}:"
            f"{encode_text(u.keys)}:"
        )
        for name in sorted(u.tokens):
            t = u.tokens[name]
            out.append(
                f"token:{userid}!{name}:{t.expire}:{int(t.privsep)}:{encode_text(t.comment)}:"
            )
    out.append("")
    for name, g in sorted(cfg.groups.items()):
        out.append(f"group:{name}:{','.join(sorted(g.users))}:{encode_text(g.comment)}:")
    out.append("")
    for poolid, p in sorted(cfg.pools.items()):
        vms = ",".join(str(v) for v in sorted(p.vms))
        out.append(f"pool:{poolid}:{encode_text(p.comment)}:{vms}:{','.join(sorted(p.storage))}:")
    out.append("")
    for name, privs in sorted(cfg.roles.items()):
        out.append(f"role:{name}:{','.join(sorted(privs))}:")
    out.append("")
    for path in sorted(cfg.acls):
        out.extend(_render_acl(path, cfg.acls[path]))
    return "\n".join(out) + "\n"


def _render_acl(path: str, entry: PathAcl) -> list[str]:
    # subjects with identical role lists share one line, as upstream writes them
    buckets: dict[tuple[bool, str], list[str]] = {}
    subjects = [
        *((f"@{g}", r) for g, r in entry.groups.items()),
        *entry.users.items(),
        *entry.tokens.items(),
    ]
    for subject, grants in subjects:
        for propagate in (False, True):
            names = sorted(role for role, prop in grants.items() if prop == propagate)
            if names:
                buckets.setdefault((propagate, ",".join(names)), []).append(subject)
    return [
        f"acl:{int(prop)}:{path}:{','.join(sorted(buckets[(prop, rl)]))}:{rl}:"
        for prop, rl in sorted(buckets)
    ]


# -- priv/token.cfg and priv/shadow.cfg -----------------------------------------------------


def parse_token_cfg(text: str) -> dict[str, str]:
    """``<full-tokenid> <secret>`` lines -> {full token id: secret}."""
    secrets: dict[str, str] = {}
    for raw in text.splitlines():
        parts = raw.split()
        if len(parts) == 2 and _valid(formats.full_tokenid, parts[0]):
            secrets[parts[0]] = parts[1]
    return secrets


def render_token_cfg(secrets: dict[str, str]) -> str:
    return "".join(f"{tokenid} {secrets[tokenid]}\n" for tokenid in sorted(secrets))


def parse_shadow_cfg(text: str) -> dict[str, str]:
    """``<userid>:<hash>:`` lines -> {userid: password hash}."""
    hashes: dict[str, str] = {}
    for raw in text.splitlines():
        fields = raw.strip().split(":")
        if len(fields) >= 2 and fields[0] and fields[1]:
            hashes[fields[0]] = fields[1]
    return hashes


def render_shadow_cfg(hashes: dict[str, str]) -> str:
    return "".join(f"{userid}:{hashes[userid]}:\n" for userid in sorted(hashes))
