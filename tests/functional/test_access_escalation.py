"""Privilege escalation attempts: each fails with 403 and leaves user.cfg unchanged."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from funchelp import Sess, UserFactory, grant

from pyxis.services import Services

API = "/api2/json"


@dataclass
class Case:
    name: str
    role: str  # granted to the attacker
    path: str  # where
    attack: Callable[[Sess], Awaitable[httpx.Response]]


async def _setup(root_api: httpx.AsyncClient) -> None:
    await root_api.post(f"{API}/access/groups", data={"groupid": "admins"})
    await root_api.post(f"{API}/access/groups", data={"groupid": "helpdesk"})
    await grant(root_api, "/", "Administrator", groups="admins")
    await root_api.post(f"{API}/access/roles", data={"roleid": "Used", "privs": "VM.Audit"})
    await grant(root_api, "/vms", "Used", groups="helpdesk")
    await root_api.post(f"{API}/access/users", data={"userid": "victim@pve"})


CASES = [
    Case(
        "grant Administrator to self without holding it",
        "PVEAdmin",
        "/",
        lambda s: s.put(
            "/access/acl", data={"path": "/", "roles": "Administrator", "users": s.userid}
        ),
    ),
    Case(
        "grant Administrator to a group",
        "PVEAdmin",
        "/",
        lambda s: s.put(
            "/access/acl", data={"path": "/vms", "roles": "Administrator", "groups": "helpdesk"}
        ),
    ),
    Case(
        "grant a role beyond own privileges to own token",
        "PVEVMAdmin",
        "/vms",
        lambda s: s.put(
            "/access/acl", data={"path": "/vms", "roles": "PVEAdmin", "tokens": f"{s.userid}!tk"}
        ),
    ),
    Case(
        "add self to the admins group without privileges",
        "PVEVMUser",
        "/",
        lambda s: s.put(f"/access/users/{s.userid}", data={"groups": "admins"}),
    ),
    Case(
        "user admin adds self to a group that grants more than they hold",
        "PVEUserAdmin",
        "/access",
        lambda s: s.put(f"/access/users/{s.userid}", data={"groups": "admins", "append": "1"}),
    ),
    Case(
        "user admin creates a user inside the admins group",
        "PVEUserAdmin",
        "/access",
        lambda s: s.post("/access/users", data={"userid": "sock@pve", "groups": "admins"}),
    ),
    Case(
        "widen a role used by ACLs without Permissions.Modify",
        "PVESysAdmin",
        "/",
        lambda s: s.put("/access/roles/Used", data={"privs": "Sys.Modify", "append": "1"}),
    ),
    Case(
        "create a role without Sys.Modify",
        "PVEAdmin",
        "/",
        lambda s: s.post("/access/roles", data={"roleid": "Mine", "privs": "Sys.Modify"}),
    ),
    Case(
        "change another user's password",
        "PVEVMAdmin",
        "/",
        lambda s: s.put(
            "/access/password", data={"userid": "victim@pve", "password": "hijacked-pw-1"}
        ),
    ),
    Case(
        "create a group without Group.Allocate",
        "PVEVMAdmin",
        "/",
        lambda s: s.post("/access/groups", data={"groupid": "mine"}),
    ),
    Case(
        "create a realm without Realm.Allocate",
        "PVEAdmin",
        "/",
        lambda s: s.put("/access/domains/pve", data={"default": "1"}),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_escalation_refused(
    case: Case, root_api: httpx.AsyncClient, user_session: UserFactory, svc: Services
) -> None:
    await _setup(root_api)
    sess = await user_session("mallory@pve", case.role, case.path)
    r = await root_api.post(f"{API}/access/users/mallory@pve/token/tk", data={"privsep": "1"})
    assert r.status_code == 200, r.text
    before = svc.store.read_text("user.cfg"), svc.store.read_text("domains.cfg")
    r = await case.attack(sess)
    assert r.status_code == 403, r.text
    assert (svc.store.read_text("user.cfg"), svc.store.read_text("domains.cfg")) == before


async def test_role_change_allowed_with_permissions_modify(
    root_api: httpx.AsyncClient, user_session: UserFactory
) -> None:
    await _setup(root_api)
    sess = await user_session("boss@pve", "Administrator", "/")
    r = await sess.put("/access/roles/Used", data={"privs": "VM.Console", "append": "1"})
    assert r.status_code == 200, r.text


async def test_group_admin_may_join_harmless_group(
    root_api: httpx.AsyncClient, user_session: UserFactory
) -> None:
    await _setup(root_api)
    sess = await user_session("ua@pve", "PVEUserAdmin", "/access")
    await grant(root_api, "/vms", "PVEAuditor", users="ua@pve")
    r = await sess.put("/access/users/victim@pve", data={"groups": "helpdesk"})
    assert r.status_code == 200, r.text
