"""LDAP realms against a real OpenLDAP server: login by bind, realm sync, dry run.

The module starts one ``slapd`` (tests/support/slapd.py) with a small directory:
three people under ``ou=people`` and two ``groupOfNames`` under ``ou=groups``.
Each test gets a fresh node (``svc``) whose realm points at that server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import slapd

DOMAINS = "/api2/json/access/domains"
TICKET = "/api2/json/access/ticket"
S = slapd.SUFFIX

DATA = (
    f"""dn: {S}
objectClass: dcObject
objectClass: organization
o: pyxis
dc: pyxis

dn: ou=people,{S}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{S}
objectClass: organizationalUnit
ou: groups
"""
    + "".join(
        f"""
dn: uid={uid},ou=people,{S}
objectClass: inetOrgPerson
uid: {uid}
cn: {first} {last}
givenName: {first}
sn: {last}
mail: {uid}@pyxis.test
userPassword: {uid}-ldap-pw
"""
        for uid, first, last in (
            ("alice", "Alice", "Liddell"),
            ("bob", "Bob", "Builder"),
            ("carol", "Carol", "Danvers"),
        )
    )
    + f"""
dn: cn=admins,ou=groups,{S}
objectClass: groupOfNames
cn: admins
member: uid=alice,ou=people,{S}
member: uid=bob,ou=people,{S}

dn: cn=ops team,ou=groups,{S}
objectClass: groupOfNames
cn: ops team
member: uid=carol,ou=people,{S}
"""
)

pytestmark = pytest.mark.skipif(not slapd.available(), reason="slapd not installed")


async def wait_task_done(client: httpx.AsyncClient, upid: str) -> dict[str, Any]:
    """Poll an in-process task until it stopped; its status object."""
    for _ in range(1500):
        r = await client.get(f"/api2/json/nodes/testnode/tasks/{upid}/status")
        assert r.status_code == 200, r.text
        status: dict[str, Any] = r.json()["data"]
        if status["status"] == "stopped":
            return status
        await asyncio.sleep(0.01)
    raise AssertionError(f"task {upid} still running")


@pytest.fixture(scope="module")
def ldap_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[slapd.Slapd]:
    server = slapd.Slapd(Path(tmp_path_factory.mktemp("slapd")))
    server.start(DATA)
    try:
        yield server
    finally:
        server.stop()


async def _realm(root_api: httpx.AsyncClient, server: slapd.Slapd, **extra: str) -> None:
    data = {
        "realm": "dir",
        "type": "ldap",
        "server1": "127.0.0.1",
        "port": str(server.port),
        "base_dn": f"ou=people,{S}",
        "user_attr": "uid",
        "group_dn": f"ou=groups,{S}",
        **extra,
    }
    r = await root_api.post(DOMAINS, data=data)
    assert r.status_code == 200, r.text


async def _sync(root_api: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    r = await root_api.post(f"{DOMAINS}/dir/sync", data=params)
    assert r.status_code == 200, r.text
    upid = r.json()["data"]
    return await wait_task_done(root_api, upid)


async def _users(root_api: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    r = await root_api.get("/api2/json/access/users")
    return {u["userid"]: u for u in r.json()["data"]}


async def _groups(root_api: httpx.AsyncClient) -> dict[str, list[str]]:
    out = {}
    for g in (await root_api.get("/api2/json/access/groups")).json()["data"]:
        r = await root_api.get(f"/api2/json/access/groups/{g['groupid']}")
        out[g["groupid"]] = sorted(r.json()["data"]["members"])
    return out


async def test_login_direct_bind(
    root_api: httpx.AsyncClient, api: httpx.AsyncClient, ldap_server: slapd.Slapd
) -> None:
    await _realm(root_api, ldap_server)
    # as upstream, the user must exist in user.cfg (sync or explicit creation)
    r = await api.post(TICKET, data={"username": "alice@dir", "password": "alice-ldap-pw"})
    assert r.status_code == 401
    r = await root_api.post("/api2/json/access/users", data={"userid": "alice@dir"})
    assert r.status_code == 200, r.text
    r = await api.post(
        TICKET, data={"username": "alice", "realm": "dir", "password": "alice-ldap-pw"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"]["username"] == "alice@dir"
    for bad in ("wrong-password", "", "bob-ldap-pw"):
        r = await api.post(TICKET, data={"username": "alice@dir", "password": bad})
        assert r.status_code == 401, bad


async def test_search_bind_and_sync(
    root_api: httpx.AsyncClient, api: httpx.AsyncClient, ldap_server: slapd.Slapd
) -> None:
    await _realm(
        root_api,
        ldap_server,
        bind_dn=slapd.ROOT_DN,
        password=slapd.ROOT_PW,
        sync_attributes="email=mail,firstname=givenName,lastname=sn",
        **{"sync-defaults-options": "scope=both,enable-new=1"},
    )
    assert "admin-secret" not in (await root_api.get(f"{DOMAINS}/dir")).text
    # dry run: a task that logs the plan and changes nothing
    status = await _sync(root_api, **{"dry-run": "1"})
    assert status["exitstatus"] == "OK" and status["type"] == "auth-realm-sync-test"
    assert not [u for u in await _users(root_api) if u.endswith("@dir")]
    assert not [g for g in await _groups(root_api) if g.endswith("-dir")]

    status = await _sync(root_api)  # scope from sync-defaults-options
    assert status["exitstatus"] == "OK" and status["type"] == "auth-realm-sync"
    users = await _users(root_api)
    assert sorted(u for u in users if u.endswith("@dir")) == ["alice@dir", "bob@dir", "carol@dir"]
    assert users["alice@dir"]["email"] == "alice@pyxis.test"
    assert users["alice@dir"]["firstname"] == "Alice" and users["alice@dir"]["enable"] == 1
    groups = await _groups(root_api)
    assert groups["admins-dir"] == ["alice@dir", "bob@dir"]
    assert groups["ops_team-dir"] == ["carol@dir"]

    # search-then-bind login of a synced user
    r = await api.post(TICKET, data={"username": "carol@dir", "password": "carol-ldap-pw"})
    assert r.status_code == 200, r.text
    r = await api.post(TICKET, data={"username": "carol@dir", "password": "alice-ldap-pw"})
    assert r.status_code == 401

    # bob leaves the directory: remove-vanished=entry drops him and his memberships
    ldap_server.modify(f"dn: uid=bob,ou=people,{S}\nchangetype: delete\n")
    try:
        status = await _sync(root_api, scope="both", **{"remove-vanished": "entry;acl"})
        assert status["exitstatus"] == "OK"
        users = await _users(root_api)
        assert "bob@dir" not in users and "alice@dir" in users
        assert (await _groups(root_api))["admins-dir"] == ["alice@dir"]
    finally:
        ldap_server.modify(
            f"dn: uid=bob,ou=people,{S}\nchangetype: add\nobjectClass: inetOrgPerson\n"
            "uid: bob\ncn: Bob Builder\nsn: Builder\ngivenName: Bob\n"
            "mail: bob@pyxis.test\nuserPassword: bob-ldap-pw\n"
        )


async def test_sync_enable_new_and_scope(
    root_api: httpx.AsyncClient, api: httpx.AsyncClient, ldap_server: slapd.Slapd
) -> None:
    await _realm(root_api, ldap_server, bind_dn=slapd.ROOT_DN, password=slapd.ROOT_PW)
    r = await root_api.post(f"{DOMAINS}/dir/sync", data={})
    assert r.status_code == 400  # no scope and no default
    status = await _sync(root_api, scope="users", **{"enable-new": "0"})
    assert status["exitstatus"] == "OK"
    users = await _users(root_api)
    assert users["alice@dir"]["enable"] == 0
    assert not [g for g in await _groups(root_api) if g.endswith("-dir")]
    r = await api.post(TICKET, data={"username": "alice@dir", "password": "alice-ldap-pw"})
    assert r.status_code == 401  # disabled until an admin enables her


async def test_unreachable_server_fails_task(
    root_api: httpx.AsyncClient, api: httpx.AsyncClient, ldap_server: slapd.Slapd
) -> None:
    await _realm(root_api, ldap_server, bind_dn=slapd.ROOT_DN, password="wrong-service-pw")
    status = await _sync(root_api, scope="users")
    assert status["exitstatus"] != "OK" and "bind" in status["exitstatus"]
