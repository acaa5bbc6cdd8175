"""Realm sync: bring users and groups of an LDAP/AD realm into ``user.cfg``.

As upstream: directory users become ``<name>@<realm>``, directory groups become
``<name>-<realm>`` (characters a group id cannot hold are replaced by ``_``).
``remove-vanished`` is a ``;`` list of ``entry`` (delete users/groups of the realm that
the directory no longer has), ``acl`` (delete their ACL entries) and ``properties``
(drop user fields the directory no longer sets, instead of keeping them);
``enable-new`` decides whether new users may log in.  The plan is computed first and
logged; with ``dry-run`` nothing is written.
"""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyxis.access import realms
from pyxis.access.realm_ldap import DirGroup, DirUser, directory
from pyxis.access.usercfg import Group, User, UserCfg
from pyxis.errors import ParamError
from pyxis.schema import propstr

if TYPE_CHECKING:
    from pyxis.services import Services
    from pyxis.tasks.manager import TaskLog

_GROUP_BAD = re.compile(r"[^A-Za-z0-9.\-_]")
STR_FIELDS = ("firstname", "lastname", "email", "comment", "keys")


@dataclass(frozen=True)
class SyncOptions:
    scope: str
    remove_vanished: frozenset[str] = frozenset()
    enable_new: bool = True
    dry_run: bool = False

    @classmethod
    def resolve(cls, realm_cfg: Mapping[str, Any], p: Mapping[str, Any]) -> SyncOptions:
        """Request parameters over the realm's ``sync-defaults-options``."""
        raw = realm_cfg.get("sync-defaults-options")
        defaults = propstr.parse(realms.SYNC_OPTIONS_FORMAT, str(raw)) if raw else {}
        merged = {**defaults, **{k: v for k, v in p.items() if v is not None}}
        if not merged.get("scope"):
            raise ParamError.one("scope", "no default for 'scope' set")
        vanished = str(merged.get("remove-vanished") or "none")
        parts = frozenset() if vanished == "none" else frozenset(vanished.split(";"))
        return cls(
            scope=str(merged["scope"]),
            remove_vanished=parts,
            enable_new=bool(int(merged.get("enable-new", 1))),
            dry_run=bool(int(merged.get("dry-run", 0))),
        )


@dataclass
class Plan:
    """What a sync would change; ``apply`` performs it on a parsed ``user.cfg``."""

    realm: str
    opts: SyncOptions
    users: dict[str, dict[str, str]] = field(default_factory=dict)
    groups: dict[str, set[str]] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    def apply(self, cfg: UserCfg) -> None:
        self.messages.clear()
        if self.opts.scope in ("users", "both"):
            self._apply_users(cfg)
        if self.opts.scope in ("groups", "both"):
            self._apply_groups(cfg)

    def _apply_users(self, cfg: UserCfg) -> None:
        suffix = f"@{self.realm}"
        for userid in sorted(u for u in cfg.users if u.endswith(suffix)):
            if userid not in self.users:
                self._vanished_user(cfg, userid)
        for userid, attrs in sorted(self.users.items()):
            user = cfg.users.get(userid)
            if user is None:
                user = cfg.users[userid] = User(enable=self.opts.enable_new)
                self.messages.append(f"adding user '{userid}'")
            else:
                self.messages.append(f"updating user '{userid}'")
            for key in STR_FIELDS:
                if key in attrs:
                    setattr(user, key, attrs[key])
                elif "properties" in self.opts.remove_vanished:
                    setattr(user, key, "")

    def _vanished_user(self, cfg: UserCfg, userid: str) -> None:
        if "acl" in self.opts.remove_vanished:
            for acl in cfg.acls.values():
                acl.users.pop(userid, None)
            self.messages.append(f"removed ACL entries of vanished user '{userid}'")
        if "entry" in self.opts.remove_vanished:
            del cfg.users[userid]
            for group in cfg.groups.values():
                group.users.discard(userid)
            self.messages.append(f"removed vanished user '{userid}'")

    def _apply_groups(self, cfg: UserCfg) -> None:
        suffix = f"-{self.realm}"
        for gid in sorted(g for g in cfg.groups if g.endswith(suffix)):
            if gid in self.groups:
                continue
            if "acl" in self.opts.remove_vanished:
                for acl in cfg.acls.values():
                    acl.groups.pop(gid, None)
                self.messages.append(f"removed ACL entries of vanished group '{gid}'")
            if "entry" in self.opts.remove_vanished:
                del cfg.groups[gid]
                self.messages.append(f"removed vanished group '{gid}'")
        for gid, members in sorted(self.groups.items()):
            known = {m for m in members if m in cfg.users}
            group = cfg.groups.get(gid)
            if group is None:
                cfg.groups[gid] = Group(users=known)
                self.messages.append(f"adding group '{gid}'")
            else:
                # members from other realms stay; this realm's follow the directory
                others = {u for u in group.users if not u.endswith(f"@{self.realm}")}
                group.users = others | known
                self.messages.append(f"updating group '{gid}'")


def group_id(name: str, realm: str) -> str:
    return _GROUP_BAD.sub("_", f"{name}-{realm}")


def make_plan(realm: str, opts: SyncOptions, users: list[DirUser], groups: list[DirGroup]) -> Plan:
    plan = Plan(realm, opts)
    by_dn: dict[str, str] = {}
    for u in users:
        userid = f"{u.name}@{realm}"
        plan.users[userid] = dict(u.attrs)
        by_dn[u.dn.lower()] = userid
    for g in groups:
        members = {by_dn[dn.lower()] for dn in g.member_dns if dn.lower() in by_dn}
        plan.groups[group_id(g.name, realm)] = members
    return plan


async def run_sync(svc: Services, realm: str, opts: SyncOptions, log: TaskLog) -> None:
    """The body of the sync task."""
    dirobj = directory(svc, realm)
    want_groups = opts.scope in ("groups", "both")
    users, groups = await asyncio.to_thread(dirobj.fetch, groups=want_groups)
    log.log(f"got data from server, updating {opts.scope}")
    plan = make_plan(realm, opts, users, groups)
    if opts.dry_run:
        plan.apply(copy.deepcopy(svc.access.cfg()))
        for line in plan.messages:
            log.log(f"{line} (dry-run)")
        log.log("NOTE: dry-run, no changes written")
        return
    apply: Callable[[UserCfg], None] = plan.apply
    await svc.access.modify(apply)
    for line in plan.messages:
        log.log(line)
    log.log("successfully updated user configuration")
