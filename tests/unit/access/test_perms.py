"""Effective privileges, permission declarations and the ticket capability map."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from pyxis.access import usercfg
from pyxis.access.perms import Permissions, validate_permission
from pyxis.access.roles import ALL_PRIVILEGES, BUILTIN_ROLES

NOW = 2_000_000_000

USER_CFG = """\
user:root@pam:1:0::::::
user:alice@pve:1:0::::::
token:alice@pve!sep:0:1::
token:alice@pve!full:0:0::
token:alice@pve!old:1000:0::
user:bob@pve:1:0::::::
user:carol@pve:0:0::::::
user:dave@pve:1:1000::::::
user:erin@pve:1:0::::::
user:gina@pve:1:0::::::
user:hank@pve:1:0::::::
token:root@pam!auto:0:1::

group:ops:alice@pve,bob@pve::
group:auditors:bob@pve::
group:dev:erin@pve::

pool:dev::100,101:local:

role:PermAdmin:Permissions.Modify:

acl:1:/:@auditors:PVEAuditor:
acl:1:/:carol@pve,dave@pve:Administrator:
acl:1:/vms:@ops:PVEVMUser:
acl:1:/vms:bob@pve:PVETemplateUser:
acl:1:/vms:alice@pve!sep:PVEVMAdmin:
acl:1:/vms/102:alice@pve:NoAccess:
acl:1:/vms/103:@ops:NoAccess:
acl:1:/vms/103:alice@pve:PVEVMAdmin:
acl:0:/nodes:alice@pve:PVESysAdmin:
acl:1:/storage:alice@pve:PVEDatastoreAdmin:
acl:1:/storage/local:@ops:PVEDatastoreUser:
acl:1:/pool/dev:erin@pve:PVEDatastoreUser,PVEVMAdmin:
acl:1:/access/groups/dev:gina@pve:PVEUserAdmin:
acl:1:/access/realm/pve:gina@pve:PVEUserAdmin:
acl:1:/vms/200:hank@pve:PermAdmin:
acl:1:/:root@pam!auto:PVEAuditor:
"""


@pytest.fixture(scope="module")
def perms() -> Permissions:
    cfg = usercfg.parse_user_cfg(USER_CFG)
    assert cfg.warnings == []
    return Permissions(cfg, clock=lambda: NOW)


def role(*names: str) -> frozenset[str]:
    result: set[str] = set()
    for name in names:
        result |= BUILTIN_ROLES[name]
    return frozenset(result)


NOTHING: frozenset[str] = frozenset()

MATRIX = [
    ("root has everything", "root@pam", "/nodes/n1", ALL_PRIVILEGES),
    ("group grant propagates", "alice@pve", "/vms/100", role("PVEVMUser")),
    ("nothing above the grant", "alice@pve", "/", NOTHING),
    ("own entry beats groups at a path", "bob@pve", "/vms/105", role("PVETemplateUser")),
    ("other groups still apply elsewhere", "bob@pve", "/storage/x", role("PVEAuditor")),
    ("user NoAccess clears group grant", "alice@pve", "/vms/102", NOTHING),
    ("user grant beats group NoAccess", "alice@pve", "/vms/103", role("PVEVMAdmin")),
    ("group NoAccess for other members", "bob@pve", "/vms/103", NOTHING),
    ("propagate=0 applies on its path", "alice@pve", "/nodes", role("PVESysAdmin")),
    ("propagate=0 stops below", "alice@pve", "/nodes/n1", NOTHING),
    (
        "deeper group grant replaces user grant",
        "alice@pve",
        "/storage/local",
        role("PVEDatastoreUser"),
    ),
    ("user grant on sibling storage", "alice@pve", "/storage/nfs", role("PVEDatastoreAdmin")),
    ("disabled user", "carol@pve", "/", NOTHING),
    ("expired user", "dave@pve", "/vms/100", NOTHING),
    ("unknown user", "zed@pve", "/", NOTHING),
    (
        "pool grants reach member VMs",
        "erin@pve",
        "/vms/101",
        role("PVEVMAdmin", "PVEDatastoreUser"),
    ),
    (
        "pool grants reach member storage",
        "erin@pve",
        "/storage/local",
        role("PVEVMAdmin", "PVEDatastoreUser"),
    ),
    ("no pool grant outside the pool", "erin@pve", "/vms/102", NOTHING),
    ("privsep token: intersection", "alice@pve!sep", "/vms/100", role("PVEVMUser")),
    ("privsep token: nothing without own ACL", "alice@pve!sep", "/storage/nfs", NOTHING),
    ("privsep token: user NoAccess still wins", "alice@pve!sep", "/vms/102", NOTHING),
    ("full token: user's privileges", "alice@pve!full", "/storage/nfs", role("PVEDatastoreAdmin")),
    ("expired token", "alice@pve!old", "/vms/100", NOTHING),
    ("unknown token", "alice@pve!nope", "/vms/100", NOTHING),
    ("root's privsep token is limited", "root@pam!auto", "/vms/100", role("PVEAuditor")),
    ("path is normalised", "alice@pve", "//vms/100/", role("PVEVMUser")),
    ("invalid path", "root@pam", "/vms/1 00", NOTHING),
]


@pytest.mark.parametrize(
    ("description", "authid", "path", "expected"), MATRIX, ids=[row[0] for row in MATRIX]
)
def test_privilege_matrix(
    perms: Permissions, description: str, authid: str, path: str, expected: frozenset[str]
) -> None:
    assert perms.privs(authid, path) == expected


def test_check_all_and_any(perms: Permissions) -> None:
    assert perms.check("alice@pve", "/vms/100", ["VM.Audit", "VM.Console"])
    assert not perms.check("alice@pve", "/vms/100", ["VM.Audit", "VM.Allocate"])
    assert perms.check("alice@pve", "/vms/100", ["VM.Audit", "VM.Allocate"], any=True)
    assert not perms.check("alice@pve", "/vms/100", ["VM.Allocate"], any=True)


def test_expiry_follows_the_clock() -> None:
    now = [500]
    perms = Permissions(usercfg.parse_user_cfg(USER_CFG), clock=lambda: now[0])
    assert perms.privs("dave@pve", "/") == ALL_PRIVILEGES
    now[0] = 1001
    assert perms.privs("dave@pve", "/") == NOTHING


VMPOWER = {"check": ["perm", "/vms/{vmid}", ["VM.PowerMgmt"]]}
CLONE = {
    "check": [
        "and",
        ["perm", "/vms/{vmid}", ["VM.Clone"]],
        [
            "or",
            ["perm", "/vms/{newid}", ["VM.Allocate"]],
            ["perm", "/pool/{pool}", ["VM.Allocate"], "require_param", "pool"],
        ],
    ]
}
ANY = {"check": ["perm", "/vms/{vmid}", ["VM.Allocate", "VM.Audit"], "any", 1]}
SELF_OR_GROUP = {"check": ["or", ["userid-param", "self"], ["userid-group", ["User.Modify"]]]}
REALM_AND_GROUP = {
    "check": [
        "and",
        ["userid-param", "Realm.AllocateUser"],
        ["userid-group", ["User.Modify"], "groups_param", "create"],
    ]
}
UPDATE_USER = {"check": ["userid-group", ["User.Modify"], "groups_param", "update"]}
ACL_MODIFY = {"check": ["perm-modify", "{path}"]}

EVALUATIONS: list[tuple[str, dict[str, Any] | None, str | None, dict[str, Any], bool]] = [
    ("world admits anonymous", {"user": "world"}, None, {}, True),
    ("all needs a login", {"user": "all"}, None, {}, False),
    ("all admits any user", {"user": "all"}, "zed@pve", {}, True),
    (
        "all wins over check",
        {"user": "all", "check": ["perm", "/", ["Sys.Audit"]]},
        "alice@pve",
        {},
        True,
    ),
    ("no declaration: root only", None, "root@pam", {}, True),
    ("no declaration: others denied", None, "alice@pve", {}, False),
    ("root passes any check", VMPOWER, "root@pam", {"vmid": 999}, True),
    ("path from params", VMPOWER, "alice@pve", {"vmid": 100}, True),
    ("path from string param", VMPOWER, "alice@pve", {"vmid": "102"}, False),
    ("missing path param", VMPOWER, "alice@pve", {}, False),
    ("any of", ANY, "alice@pve", {"vmid": 100}, True),
    ("clone into own pool", CLONE, "erin@pve", {"vmid": 100, "newid": 300, "pool": "dev"}, True),
    ("clone without pool", CLONE, "erin@pve", {"vmid": 100, "newid": 300}, False),
    ("clone lacking VM.Clone", CLONE, "alice@pve", {"vmid": 100, "newid": 300}, False),
    ("self", SELF_OR_GROUP, "alice@pve", {"userid": "alice@pve"}, True),
    ("token is not self", SELF_OR_GROUP, "alice@pve!full", {"userid": "alice@pve"}, False),
    ("group admin manages member", SELF_OR_GROUP, "gina@pve", {"userid": "erin@pve"}, True),
    ("group admin not for others", SELF_OR_GROUP, "gina@pve", {"userid": "bob@pve"}, False),
    (
        "create into managed group",
        REALM_AND_GROUP,
        "gina@pve",
        {"userid": "new@pve", "groups": "dev"},
        True,
    ),
    ("create without groups", REALM_AND_GROUP, "gina@pve", {"userid": "new@pve"}, False),
    (
        "create into foreign group",
        REALM_AND_GROUP,
        "gina@pve",
        {"userid": "new@pve", "groups": "dev,ops"},
        False,
    ),
    (
        "create in other realm",
        REALM_AND_GROUP,
        "gina@pve",
        {"userid": "new@ldap", "groups": "dev"},
        False,
    ),
    ("update member keeping groups", UPDATE_USER, "gina@pve", {"userid": "erin@pve"}, True),
    (
        "update member into foreign group",
        UPDATE_USER,
        "gina@pve",
        {"userid": "erin@pve", "groups": "ops"},
        False,
    ),
    ("perm-modify needs Permissions.Modify", ACL_MODIFY, "alice@pve", {"path": "/vms/100"}, False),
    ("perm-modify with VM.Allocate below /vms", ACL_MODIFY, "erin@pve", {"path": "/vms/100"}, True),
    ("perm-modify with Permissions.Modify", ACL_MODIFY, "hank@pve", {"path": "/vms/200"}, True),
    ("perm-modify on /", ACL_MODIFY, "erin@pve", {"path": "/"}, False),
]


@pytest.mark.parametrize(
    ("description", "perm", "authid", "params", "expected"),
    EVALUATIONS,
    ids=[row[0] for row in EVALUATIONS],
)
def test_evaluate(
    perms: Permissions,
    description: str,
    perm: dict[str, Any] | None,
    authid: str | None,
    params: dict[str, Any],
    expected: bool,
) -> None:
    assert perms.evaluate(perm, authid, params) is expected


@pytest.mark.parametrize(
    "perm",
    [
        {"check": ["frobnicate", "/"]},
        {"check": ["or", ["perm", "/", ["Sys.Audit"]], ["bogus"]]},  # even in a skipped branch
        {"check": ["perm", "/", ["VM.Monitor"]]},
        {"check": ["perm", "/", ["Sys.Audit"], "sometimes", 1]},
        {"check": ["userid-group", ["User.Modify"], "groups_param", "replace"]},
        {"check": ["userid-param", "other"]},
        {"check": []},
        {"check": ["and"]},
        {"user": "some"},
        {"owner": "me"},
    ],
)
def test_unknown_shapes_raise(perms: Permissions, perm: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        perms.evaluate(perm, "root@pam", {})


def test_every_schema_declaration_is_understood(perms: Permissions) -> None:
    schema = json.loads(resources.files("pyxis").joinpath("data/schema.json").read_text())
    count = 0
    for methods in schema.values():
        for endpoint in methods.values():
            perm = endpoint.get("permissions")
            validate_permission(perm)
            perms.evaluate(perm, "alice@pve", {"vmid": 100, "userid": "alice@pve"})
            count += 1
    assert count > 600


def test_compute_cap(perms: Permissions) -> None:
    root = perms.compute_cap("root@pam")
    assert set(root) == {"vms", "access", "storage", "nodes", "sdn", "dc", "mapping"}
    assert root["access"] == {"Group.Allocate": 1, "Permissions.Modify": 1, "User.Modify": 1}
    assert root["dc"] == {"SDN.Allocate": 1, "SDN.Audit": 1, "SDN.Use": 1, "Sys.Audit": 1}
    assert root["nodes"]["Sys.PowerMgmt"] == 1

    bob = perms.compute_cap("bob@pve")
    assert bob["dc"] == {"SDN.Audit": 1, "Sys.Audit": 1}
    assert set(bob["vms"]) >= {"VM.Audit", "VM.Clone"}
    assert bob["access"] == {}

    erin = perms.compute_cap("erin@pve")  # everything erin has comes from the pool
    assert "VM.Allocate" in erin["vms"] and "Datastore.AllocateSpace" in erin["storage"]
    assert erin["nodes"] == {} and erin["dc"] == {}

    assert all(not privs for privs in perms.compute_cap("carol@pve").values())
