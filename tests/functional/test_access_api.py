"""The access API: users, passwords, ACLs and roles, and who may change them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from funchelp import NODE, ClientFactory, UserFactory, add_user, grant, ticket_login

USERS = "/api2/json/access/users"
ACL = "/api2/json/access/acl"


async def _userids(client: httpx.AsyncClient) -> list[str]:
    r = await client.get(USERS)
    assert r.status_code == 200, r.text
    return [u["userid"] for u in r.json()["data"]]


async def _acl(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    r = await client.get(ACL)
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


# --- users ------------------------------------------------------------------------


async def test_user_lifecycle(root_api: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    r = await root_api.post(
        USERS,
        data={
            "userid": "alice@pve",
            "password": "alice-pw-123",
            "firstname": "Alice",
            "lastname": "Liddell",
            "email": "alice@example.com",
            "comment": "test user",
            "expire": "0",
        },
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"data": None}
    r = await root_api.get(USERS)
    (alice,) = [u for u in r.json()["data"] if u["userid"] == "alice@pve"]
    assert alice["enable"] == 1
    assert alice["email"] == "alice@example.com"
    assert alice["realm-type"] == "pve"
    assert "password" not in alice

    r = await root_api.get(f"{USERS}/alice@pve")
    data = r.json()["data"]
    assert data["firstname"] == "Alice"
    assert data["lastname"] == "Liddell"
    assert data["comment"] == "test user"
    assert data["enable"] == 1
    assert data["groups"] == []
    assert data["tokens"] == {}
    assert "userid" not in data

    r = await root_api.put(
        f"{USERS}/alice@pve", data={"comment": "changed", "enable": "0", "email": "a@b.c"}
    )
    assert r.status_code == 200, r.text
    data = (await root_api.get(f"{USERS}/alice@pve")).json()["data"]
    assert (data["comment"], data["enable"], data["email"]) == ("changed", 0, "a@b.c")
    assert data["firstname"] == "Alice"
    r = await root_api.get(USERS, params={"enabled": "1"})
    assert "alice@pve" not in [u["userid"] for u in r.json()["data"]]
    r = await root_api.get(USERS, params={"enabled": "0"})
    assert [u["userid"] for u in r.json()["data"]] == ["alice@pve"]

    r = await root_api.delete(f"{USERS}/alice@pve")
    assert r.status_code == 200, r.text
    assert "alice@pve" not in await _userids(root_api)
    assert (await root_api.get(f"{USERS}/alice@pve")).status_code == 404
    # the password went with the user: a new user of that name cannot use it
    r = await root_api.post(USERS, data={"userid": "alice@pve"})
    assert r.status_code == 200, r.text
    r = await api.post(
        "/api2/json/access/ticket", data={"username": "alice@pve", "password": "alice-pw-123"}
    )
    assert r.status_code == 401


async def test_full_listing_shows_tokens(root_api: httpx.AsyncClient) -> None:
    await add_user(root_api, "tok@pve", "tok-pw-1234")
    r = await root_api.post(f"{USERS}/tok@pve/token/t1", data={"comment": "ci"})
    assert r.status_code == 200
    r = await root_api.get(USERS, params={"full": "1"})
    (user,) = [u for u in r.json()["data"] if u["userid"] == "tok@pve"]
    assert user["tokens"] == [{"tokenid": "t1", "privsep": 1, "expire": 0, "comment": "ci"}]


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ({"userid": "dup@pve"}, "userid"),
        ({"userid": "x@nosuchrealm"}, "userid"),
        ({"userid": "pamuser@pam", "password": "some-pw-123"}, "password"),
        ({"userid": "new@pve", "groups": "nosuchgroup"}, "groups"),
        ({"userid": "root@pam"}, "userid"),
    ],
    ids=["duplicate", "unknown-realm", "pam-password", "unknown-group", "root"],
)
async def test_create_user_refusals(
    root_api: httpx.AsyncClient, data: dict[str, str], param: str
) -> None:
    await add_user(root_api, "dup@pve", "dup-pw-1234")
    before = await _userids(root_api)
    r = await root_api.post(USERS, data=data)
    assert 400 <= r.status_code < 500, r.text
    assert param in r.json()["errors"]
    assert await _userids(root_api) == before


async def test_unknown_user_update_and_delete(root_api: httpx.AsyncClient) -> None:
    r = await root_api.put(f"{USERS}/ghost@pve", data={"comment": "x"})
    assert r.status_code == 400
    assert "userid" in r.json()["errors"]
    r = await root_api.delete(f"{USERS}/ghost@pve")
    assert r.status_code == 400
    r = await root_api.delete(f"{USERS}/root@pam")
    assert r.status_code == 400
    assert "root@pam" in await _userids(root_api)


async def test_user_deletion_drops_its_acls(root_api: httpx.AsyncClient) -> None:
    await add_user(root_api, "gone@pve", "gone-pw-123", "PVEAuditor", "/storage")
    assert any(e["ugid"] == "gone@pve" for e in await _acl(root_api))
    await root_api.delete(f"{USERS}/gone@pve")
    assert not any(e["ugid"] == "gone@pve" for e in await _acl(root_api))


# --- passwords ----------------------------------------------------------------------


async def _can_login(client: httpx.AsyncClient, userid: str, password: str) -> bool:
    r = await client.post(
        "/api2/json/access/ticket", data={"username": userid, "password": password}
    )
    return r.status_code == 200


async def test_password_change_by_root(root_api: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    await add_user(root_api, "pw@pve", "old-password-1")
    r = await root_api.put(
        "/api2/json/access/password", data={"userid": "pw@pve", "password": "new-password-1"}
    )
    assert r.status_code == 200, r.text
    assert await _can_login(api, "pw@pve", "new-password-1")
    assert not await _can_login(api, "pw@pve", "old-password-1")


async def test_password_change_by_self(
    root_api: httpx.AsyncClient, user_session: UserFactory, api: httpx.AsyncClient
) -> None:
    me = await user_session("self@pve", password="my-old-password")
    url = "/access/password"
    # the confirmation must be the current password
    r = await me.put(
        url,
        data={
            "userid": "self@pve",
            "password": "my-new-password",
            "confirmation-password": "not-my-password",
        },
    )
    assert r.status_code == 403
    assert await _can_login(api, "self@pve", "my-old-password")
    r = await me.put(
        url,
        data={
            "userid": "self@pve",
            "password": "my-new-password",
            "confirmation-password": "my-old-password",
        },
    )
    assert r.status_code == 200, r.text
    assert await _can_login(api, "self@pve", "my-new-password")
    assert not await _can_login(api, "self@pve", "my-old-password")


@pytest.mark.parametrize(
    ("data", "status", "param"),
    [
        ({"userid": "victim@pve", "password": "hijacked-pw-1"}, 403, None),
        ({"userid": "me@pve", "password": "short"}, 400, "password"),
        ({"userid": "me@pve"}, 400, "password"),
        ({"userid": "root@pam", "password": "hijacked-pw-1"}, 403, None),
    ],
    ids=["other-user", "too-short", "missing", "root"],
)
async def test_password_change_refusals(
    root_api: httpx.AsyncClient,
    user_session: UserFactory,
    api: httpx.AsyncClient,
    data: dict[str, str],
    status: int,
    param: str | None,
) -> None:
    await add_user(root_api, "victim@pve", "victim-pw-123")
    me = await user_session("me@pve", password="me-password-1")
    r = await me.put("/access/password", data=data)
    assert r.status_code == status, r.text
    if param:
        assert param in r.json()["errors"]
    assert await _can_login(api, "victim@pve", "victim-pw-123")
    assert await _can_login(api, "me@pve", "me-password-1")


async def test_password_of_pam_user_is_not_ours_to_set(root_api: httpx.AsyncClient) -> None:
    r = await root_api.put(
        "/api2/json/access/password", data={"userid": "root@pam", "password": "new-password-1"}
    )
    assert r.status_code == 400
    assert "userid" in r.json()["errors"]


# --- ACLs ---------------------------------------------------------------------------


async def test_acl_put_get_delete(root_api: httpx.AsyncClient) -> None:
    await add_user(root_api, "acl@pve", "acl-pw-1234")
    await grant(root_api, "/storage/local", "PVEDatastoreUser", users="acl@pve", propagate=0)
    await grant(root_api, "/vms", "PVEVMUser,PVEAuditor", users="acl@pve")
    entries = [e for e in await _acl(root_api) if e["ugid"] == "acl@pve"]
    assert sorted(entries, key=lambda e: (e["path"], e["roleid"])) == [
        {
            "path": "/storage/local",
            "type": "user",
            "ugid": "acl@pve",
            "roleid": "PVEDatastoreUser",
            "propagate": 0,
        },
        {"path": "/vms", "type": "user", "ugid": "acl@pve", "roleid": "PVEAuditor", "propagate": 1},
        {"path": "/vms", "type": "user", "ugid": "acl@pve", "roleid": "PVEVMUser", "propagate": 1},
    ]
    r = await root_api.put(
        ACL, data={"path": "/vms", "roles": "PVEVMUser", "users": "acl@pve", "delete": "1"}
    )
    assert r.status_code == 200, r.text
    entries = [e for e in await _acl(root_api) if e["ugid"] == "acl@pve"]
    assert {(e["path"], e["roleid"]) for e in entries} == {
        ("/storage/local", "PVEDatastoreUser"),
        ("/vms", "PVEAuditor"),
    }


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ({"path": "/", "roles": "NoSuchRole", "users": "acl@pve"}, "roles"),
        ({"path": "/", "roles": "PVEAuditor", "users": "ghost@pve"}, "users"),
        ({"path": "/", "roles": "PVEAuditor", "groups": "nogroup"}, "groups"),
        ({"path": "/", "roles": "PVEAuditor", "tokens": "acl@pve!none"}, "tokens"),
        ({"path": "/", "roles": "PVEAuditor"}, "users"),
        ({"path": "/", "roles": "PVEAuditor", "users": "acl@pve", "propagate": "yes"}, "propagate"),
        ({"path": "/vms/1 00", "roles": "PVEAuditor", "users": "acl@pve"}, "path"),
    ],
    ids=["role", "user", "group", "token", "nobody", "propagate", "path"],
)
async def test_acl_refusals(root_api: httpx.AsyncClient, data: dict[str, str], param: str) -> None:
    await add_user(root_api, "acl@pve", "acl-pw-1234")
    before = await _acl(root_api)
    r = await root_api.put(ACL, data=data)
    assert r.status_code == 400, r.text
    assert param in r.json()["errors"]
    assert await _acl(root_api) == before


@pytest.mark.parametrize(
    ("path", "propagate", "status"),
    [
        ("/", 1, 200),
        ("/", 0, 403),
        ("/nodes", 1, 200),
        ("/nodes", 0, 403),
        (f"/nodes/{NODE}", 0, 200),
        ("/storage", 1, 403),
    ],
)
async def test_acl_propagation(
    user_session: UserFactory, path: str, propagate: int, status: int
) -> None:
    me = await user_session("prop@pve", role="PVEAuditor", path=path, propagate=propagate)
    r = await me.get(f"/nodes/{NODE}/status")
    assert r.status_code == status, r.text


async def test_deeper_acl_overrides(root_api: httpx.AsyncClient, user_session: UserFactory) -> None:
    me = await user_session("deep@pve", role="PVEAuditor", path="/")
    assert (await me.get(f"/nodes/{NODE}/status")).status_code == 200
    await grant(root_api, f"/nodes/{NODE}", "NoAccess", users="deep@pve")
    assert (await me.get(f"/nodes/{NODE}/status")).status_code == 403


async def test_acl_listing_needs_audit(
    root_api: httpx.AsyncClient, user_session: UserFactory
) -> None:
    await add_user(root_api, "acl@pve", "acl-pw-1234", "PVEAuditor", "/vms")
    plain = await user_session("plain@pve")
    r = await plain.get("/access/acl")
    assert r.status_code == 200
    assert r.json()["data"] == []
    auditor = await user_session("aud@pve", role="PVEAuditor")
    ugids = {e["ugid"] for e in (await auditor.get("/access/acl")).json()["data"]}
    assert {"acl@pve", "aud@pve"} <= ugids


# --- roles --------------------------------------------------------------------------


async def test_roles_list(root_api: httpx.AsyncClient, user_session: UserFactory) -> None:
    me = await user_session("roles@pve")
    r = await me.get("/access/roles")
    assert r.status_code == 200
    roles = {x["roleid"]: x for x in r.json()["data"]}
    for name in (
        "Administrator",
        "NoAccess",
        "PVEAdmin",
        "PVEAuditor",
        "PVEVMAdmin",
        "PVEVMUser",
        "PVEDatastoreAdmin",
        "PVEDatastoreUser",
        "PVEUserAdmin",
        "PVETemplateUser",
    ):
        assert name in roles, name
        assert roles[name]["special"] == 1
    assert roles["NoAccess"]["privs"] == ""
    assert "Sys.Audit" in roles["PVEAuditor"]["privs"].split(",")
    assert "Sys.Modify" not in roles["PVEAuditor"]["privs"].split(",")
    assert "Permissions.Modify" in roles["Administrator"]["privs"].split(",")
    assert set(roles["PVEAdmin"]["privs"].split(",")) < set(
        roles["Administrator"]["privs"].split(",")
    )


# --- who may do what ------------------------------------------------------------------


async def test_auditor_can_read_but_not_write(
    root_api: httpx.AsyncClient, user_session: UserFactory, tmp_path: Path
) -> None:
    await add_user(root_api, "target@pve", "target-pw-12")
    aud = await user_session("aud@pve", role="PVEAuditor")
    for path in (f"/nodes/{NODE}/status", "/storage", "/access/users", "/cluster/status"):
        r = await aud.get(path)
        assert r.status_code == 200, (path, r.text)
    assert "target@pve" in [u["userid"] for u in (await aud.get("/access/users")).json()["data"]]
    r = await aud.post(
        "/storage", data={"storage": "audst", "type": "dir", "path": str(tmp_path / "a")}
    )
    assert r.status_code == 403
    assert "Permission check failed" in r.json()["message"]
    assert not (tmp_path / "a").exists()
    r = await aud.put(
        "/access/acl", data={"path": "/", "roles": "Administrator", "users": "aud@pve"}
    )
    assert r.status_code == 403
    r = await aud.put("/access/users/target@pve", data={"comment": "hacked"})
    assert r.status_code == 403
    r = await aud.delete("/access/users/target@pve")
    assert r.status_code == 403
    r = await aud.put("/cluster/options", data={"keyboard": "de"})
    assert r.status_code == 403
    assert "target@pve" in await _userids(root_api)
    assert all(e["ugid"] != "aud@pve" or e["roleid"] == "PVEAuditor" for e in await _acl(root_api))


@pytest.mark.parametrize("path", ["/", "/vms", "/storage/local", "/access"])
async def test_non_admin_cannot_grant_administrator(
    root_api: httpx.AsyncClient, svc: Any, user_session: UserFactory, path: str
) -> None:
    # an ACL manager: may edit ACLs everywhere, but holds few privileges itself
    await svc.access.modify(
        lambda cfg: cfg.roles.__setitem__("AclManager", {"Permissions.Modify", "Sys.Audit"})
    )
    mgr = await user_session("mgr@pve", role="AclManager")
    sub = await user_session("sub@pve", role="PVEAdmin")
    await add_user(root_api, "friend@pve", "friend-pw-12")
    # it can hand out what it holds ...
    r = await mgr.put(
        "/access/acl", data={"path": path, "roles": "AclManager", "users": "friend@pve"}
    )
    assert r.status_code == 200, r.text
    before = await _acl(root_api)
    assert {
        "path": path,
        "type": "user",
        "ugid": "friend@pve",
        "roleid": "AclManager",
        "propagate": 1,
    } in before
    for role in ("Administrator", "PVEAdmin", "PVEVMAdmin"):
        for who in ("mgr@pve", "friend@pve"):
            r = await mgr.put("/access/acl", data={"path": path, "roles": role, "users": who})
            assert r.status_code == 403, (role, who, r.text)
            assert "Permission check failed" in r.json()["message"]
    assert await _acl(root_api) == before
    # and a PVEAdmin (no Permissions.Modify) cannot edit ACLs at all
    r = await sub.put(
        "/access/acl", data={"path": path, "roles": "Administrator", "users": "sub@pve"}
    )
    assert r.status_code == 403, r.text
    assert await _acl(root_api) == before


async def test_delegated_admin_cannot_escalate(
    root_api: httpx.AsyncClient, user_session: UserFactory, new_client: ClientFactory
) -> None:
    # a storage admin may manage ACLs of its storage (Datastore.Allocate there) ...
    sadm = await user_session("sadm@pve", role="PVEDatastoreAdmin", path="/storage/local")
    await add_user(root_api, "helper@pve", "helper-pw-12")
    r = await sadm.put(
        "/access/acl",
        data={"path": "/storage/local", "roles": "PVEDatastoreUser", "users": "helper@pve"},
    )
    assert r.status_code == 200, r.text
    # ... but cannot hand out roles with privileges it does not hold there
    before = await _acl(root_api)
    r = await sadm.put(
        "/access/acl",
        data={"path": "/storage/local", "roles": "Administrator", "users": "helper@pve"},
    )
    assert r.status_code == 403, r.text
    r = await sadm.put(
        "/access/acl", data={"path": "/", "roles": "PVEAuditor", "users": "helper@pve"}
    )
    assert r.status_code == 403, r.text
    assert await _acl(root_api) == before
    helper = await ticket_login(new_client(), "helper@pve", "helper-pw-12")
    assert (await helper.get(f"/nodes/{NODE}/status")).status_code == 403


async def test_user_admin_cannot_touch_root(
    root_api: httpx.AsyncClient, user_session: UserFactory
) -> None:
    uadm = await user_session("uadm@pve", role="PVEUserAdmin", path="/access")
    r = await uadm.post("/access/users", data={"userid": "made@pve"})
    assert r.status_code == 200, r.text
    r = await uadm.put("/access/password", data={"userid": "root@pam", "password": "owned-pw-1"})
    assert r.status_code in (400, 403)
    r = await uadm.get("/access/users/root@pam")
    assert r.status_code == 200
