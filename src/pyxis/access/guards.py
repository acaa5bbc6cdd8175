"""Privilege-escalation guards: a caller may only hand out what they hold themselves.

The declared endpoint checks say who may edit ACLs, groups and roles at all; these
functions add the upstream rule that nobody can use such an edit to gain (or give)
privileges beyond their own:

- granting a role on a path needs every privilege of that role on that path, whether
  the grantee is a user, a group or a token;
- putting a user into a group needs every privilege that group's ACL entries grant,
  on each of their paths (otherwise a user admin could join an Administrator group);
- changing the privileges of a role that ACL entries use re-grants it everywhere, so
  it needs ``Permissions.Modify`` on ``/access``, and added privileges must be held
  on every path where the role is granted.

Each raises ``PermissionDenied`` (403) before anything is written; root@pam passes.
"""

from __future__ import annotations

from collections.abc import Iterable

from pyxis.access.perms import Permissions
from pyxis.access.usercfg import ROOT
from pyxis.errors import PermissionDenied


def _missing(perms: Permissions, authid: str, path: str, wanted: Iterable[str]) -> list[str]:
    return sorted(set(wanted) - perms.privs(authid, path))


def check_grant(perms: Permissions, authid: str, path: str, roles: Iterable[str]) -> None:
    """Raise unless ``authid`` holds every privilege of ``roles`` on ``path``."""
    if authid == ROOT:
        return
    for role in roles:
        privs = perms.cfg.role_privs(role) or frozenset()
        missing = _missing(perms, authid, path, privs)
        if missing:
            raise PermissionDenied(
                f"Permission check failed - cannot grant role '{role}' on '{path}': "
                f"missing {', '.join(missing)}"
            )


def group_grants(perms: Permissions, group: str) -> list[tuple[str, str]]:
    """(path, role) pairs the group's ACL entries grant."""
    out = []
    for path, entry in sorted(perms.cfg.acls.items()):
        for role in sorted(entry.groups.get(group, {})):
            out.append((path, role))
    return out


def check_group_join(perms: Permissions, authid: str, userid: str, groups: Iterable[str]) -> None:
    """Raise unless ``authid`` could grant every role of each group ``userid`` joins."""
    if authid == ROOT:
        return
    current = perms.cfg.groups_of(userid)
    for group in sorted(set(groups) - current):
        for path, role in group_grants(perms, group):
            privs = perms.cfg.role_privs(role) or frozenset()
            missing = _missing(perms, authid, path, privs)
            if missing:
                raise PermissionDenied(
                    f"Permission check failed - cannot add '{userid}' to group '{group}': "
                    f"it grants role '{role}' on '{path}' with privileges you do not hold "
                    f"({', '.join(missing)})"
                )


def role_paths(perms: Permissions, role: str) -> list[str]:
    """Paths where any subject holds ``role``."""
    out = []
    for path, entry in sorted(perms.cfg.acls.items()):
        tables = (entry.users, entry.groups, entry.tokens)
        if any(role in grants for table in tables for grants in table.values()):
            out.append(path)
    return out


def check_role_change(perms: Permissions, authid: str, role: str, new_privs: Iterable[str]) -> None:
    """Raise if changing ``role`` to ``new_privs`` would widen grants the caller can't make."""
    if authid == ROOT:
        return
    paths = role_paths(perms, role)
    if not paths:
        return
    if not perms.check(authid, "/access", ["Permissions.Modify"]):
        raise PermissionDenied(
            f"Permission check failed - role '{role}' is used in ACLs; changing it needs "
            "Permissions.Modify on /access"
        )
    added = set(new_privs) - (perms.cfg.role_privs(role) or frozenset())
    for path in paths:
        missing = _missing(perms, authid, path, added)
        if missing:
            raise PermissionDenied(
                f"Permission check failed - role '{role}' is granted on '{path}' where you "
                f"do not hold {', '.join(missing)}"
            )
