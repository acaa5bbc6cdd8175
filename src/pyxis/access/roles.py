"""The privilege catalogue and the built-in roles (data only).

Privileges come in families (VM, Sys, Datastore, ...), and within a family each
privilege sits in one tier: ``root`` (only full administrators), ``admin``, ``user`` or
``audit``.  The built-in roles follow from the tiers the way upstream derives them:
``PVE<Family>Admin`` gets the admin, user and audit tiers of its family,
``PVE<Family>User`` the user and audit tiers (only where a user tier exists),
``PVEAdmin`` every non-root tier, ``PVEAuditor`` every audit tier; ``Administrator``
holds everything, ``NoAccess`` nothing.  Role names are part of the API and of
``user.cfg``; custom roles must not reuse them.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

# family -> tier -> privileges.  A privilege appears in exactly one family and tier.
PRIVILEGE_TIERS: Final = MappingProxyType(
    {
        "VM": {
            "root": (),
            "admin": (
                "VM.Allocate",
                "VM.Clone",
                "VM.Config.CPU",
                "VM.Config.Disk",
                "VM.Config.HWType",
                "VM.Config.Memory",
                "VM.Config.Network",
                "VM.Config.Options",
                "VM.GuestAgent.Audit",
                "VM.GuestAgent.FileRead",
                "VM.GuestAgent.FileSystemMgmt",
                "VM.GuestAgent.FileWrite",
                "VM.GuestAgent.Unrestricted",
                "VM.Migrate",
                "VM.Replicate",
                "VM.Snapshot",
                "VM.Snapshot.Rollback",
            ),
            "user": (
                "VM.Backup",
                "VM.Config.CDROM",
                "VM.Config.Cloudinit",
                "VM.Console",
                "VM.PowerMgmt",
            ),
            "audit": ("VM.Audit",),
        },
        "Sys": {
            # node power, node settings, migration from foreign clusters and fetching
            # from the network all act with root rights on the host
            "root": ("Sys.AccessNetwork", "Sys.Incoming", "Sys.Modify", "Sys.PowerMgmt"),
            "admin": ("Sys.Console", "Sys.Syslog"),
            "user": (),
            "audit": ("Sys.Audit",),
        },
        "Datastore": {
            "root": (),
            "admin": ("Datastore.Allocate", "Datastore.AllocateTemplate"),
            "user": ("Datastore.AllocateSpace",),
            "audit": ("Datastore.Audit",),
        },
        "SDN": {
            "root": (),
            "admin": ("SDN.Allocate",),
            "user": ("SDN.Use",),
            "audit": ("SDN.Audit",),
        },
        "User": {
            "root": ("Realm.Allocate",),
            "admin": ("Group.Allocate", "Realm.AllocateUser", "User.Modify"),
            "user": (),
            "audit": (),
        },
        "Pool": {
            "root": (),
            "admin": ("Pool.Allocate",),
            "user": (),
            "audit": ("Pool.Audit",),
        },
        "Mapping": {
            "root": (),
            "admin": ("Mapping.Modify",),
            "user": ("Mapping.Use",),
            "audit": ("Mapping.Audit",),
        },
        "Permissions": {
            # granting privileges is as strong as holding all of them
            "root": ("Permissions.Modify",),
            "admin": (),
            "user": (),
            "audit": (),
        },
    }
)

ALL_PRIVILEGES: Final[frozenset[str]] = frozenset(
    priv for tiers in PRIVILEGE_TIERS.values() for privs in tiers.values() for priv in privs
)


def _derive_builtin_roles() -> dict[str, frozenset[str]]:
    roles: dict[str, set[str]] = {"Administrator": set(ALL_PRIVILEGES), "NoAccess": set()}
    admin = roles.setdefault("PVEAdmin", set())
    auditor = roles.setdefault("PVEAuditor", set())
    for family, tiers in PRIVILEGE_TIERS.items():
        non_root = {*tiers["admin"], *tiers["user"], *tiers["audit"]}
        admin |= non_root
        auditor |= set(tiers["audit"])
        # a family without any admin/user/audit tier has no role of its own
        if tiers["admin"]:
            roles[f"PVE{family}Admin"] = non_root
        if tiers["user"]:
            roles[f"PVE{family}User"] = {*tiers["user"], *tiers["audit"]}
    roles["PVETemplateUser"] = {"VM.Audit", "VM.Clone"}
    # upstream adds the pool user role although Pool has no user tier
    roles["PVEPoolUser"] = {"Pool.Audit"}
    return {name: frozenset(privs) for name, privs in roles.items()}


BUILTIN_ROLES: Final = MappingProxyType(_derive_builtin_roles())

NO_ACCESS: Final = "NoAccess"
ADMINISTRATOR: Final = "Administrator"


def is_builtin_role(name: str) -> bool:
    return name in BUILTIN_ROLES


def family_of(priv: str) -> str:
    """The family a privilege belongs to (``Permissions.Modify`` -> ``Permissions``)."""
    for family, tiers in PRIVILEGE_TIERS.items():
        if any(priv in privs for privs in tiers.values()):
            return family
    raise KeyError(priv)
