"""Escalation guards and pool membership rules over a parsed user.cfg (no API)."""

from __future__ import annotations

import pytest

from pyxis.access import guards, pools
from pyxis.access.perms import Permissions
from pyxis.access.usercfg import parse_user_cfg
from pyxis.errors import Conflict, ParamError, PermissionDenied

CFG = """\
user:root@pam:1:0:::::
user:ua@pve:1:0:::::
user:vm@pve:1:0:::::
user:x@pve:1:0:::::
group:admins::
group:viewers::
role:Custom:VM.Audit:
pool:hd::100::
acl:1:/:@admins:Administrator:
acl:1:/vms:@viewers:PVEAuditor:
acl:1:/access:ua@pve:PVEUserAdmin:
acl:1:/vms:ua@pve:PVEAuditor:
acl:1:/vms:vm@pve:PVEVMAdmin:
acl:1:/vms/100:x@pve:Custom:
"""


@pytest.fixture
def perms() -> Permissions:
    return Permissions(parse_user_cfg(CFG))


@pytest.mark.parametrize(
    ("who", "path", "role", "ok"),
    [
        ("vm@pve", "/vms/100", "PVEVMUser", True),
        ("vm@pve", "/vms/100", "Administrator", False),
        ("vm@pve", "/", "PVEVMUser", False),
        ("ua@pve", "/vms", "PVEAuditor", True),
        ("root@pam", "/", "Administrator", True),
    ],
)
def test_check_grant(perms: Permissions, who: str, path: str, role: str, ok: bool) -> None:
    if ok:
        guards.check_grant(perms, who, path, [role])
    else:
        with pytest.raises(PermissionDenied):
            guards.check_grant(perms, who, path, [role])


@pytest.mark.parametrize(
    ("who", "groups", "ok"),
    [
        ("ua@pve", ["viewers"], True),
        ("ua@pve", ["admins"], False),
        ("vm@pve", ["viewers"], False),  # PVEAuditor holds more than VM.* privileges
        ("root@pam", ["admins"], True),
    ],
)
def test_check_group_join(perms: Permissions, who: str, groups: list[str], ok: bool) -> None:
    if ok:
        guards.check_group_join(perms, who, "x@pve", groups)
    else:
        with pytest.raises(PermissionDenied, match=groups[0]):
            guards.check_group_join(perms, who, "x@pve", groups)


def test_check_role_change(perms: Permissions) -> None:
    assert guards.role_paths(perms, "Custom") == ["/vms/100"]
    with pytest.raises(PermissionDenied, match=r"Permissions\.Modify"):
        guards.check_role_change(perms, "vm@pve", "Custom", {"VM.Audit", "Sys.Modify"})
    guards.check_role_change(perms, "root@pam", "Custom", {"Sys.Modify"})


def test_pool_rules() -> None:
    cfg = parse_user_cfg(CFG)
    pools.create(cfg, "hd/child")
    with pytest.raises(ParamError):
        pools.create(cfg, "nope/child")
    with pytest.raises(ParamError):
        pools.create(cfg, "hd")
    pools.create(cfg, "other")
    with pytest.raises(ParamError) as exc:
        pools.add_vm(cfg, "other", 100)
    assert "already a member" in exc.value.errors["vms"]
    pools.add_vm(cfg, "other", 100, allow_move=True)
    assert cfg.pool_of_vm(100) == "other" and not cfg.pools["hd"].vms
    with pytest.raises(Conflict, match="sub-pools"):
        pools.delete(cfg, "hd")
    with pytest.raises(Conflict, match="not empty"):
        pools.delete(cfg, "other")
    assert pools.remove_vm(cfg, 100) == "other"
    pools.delete(cfg, "other")
    assert "other" not in cfg.pools
