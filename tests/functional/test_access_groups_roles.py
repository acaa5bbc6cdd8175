"""Groups, custom roles and realms (``domains.cfg``) through the API."""

from __future__ import annotations

import httpx
from funchelp import UserFactory, err, grant

from pyxis.services import Services

API = "/api2/json"


async def test_group_lifecycle(root_api: httpx.AsyncClient) -> None:
    r = await root_api.post(f"{API}/access/groups", data={"groupid": "ops", "comment": "Ops"})
    assert r.status_code == 200, r.text
    r = await root_api.post(f"{API}/access/groups", data={"groupid": "ops"})
    assert r.status_code == 400 and "already exists" in err(r)["errors"]["groupid"]
    r = await root_api.post(
        f"{API}/access/users", data={"userid": "ann@pve", "groups": "ops", "password": "pw-ann-123"}
    )
    assert r.status_code == 200, r.text
    r = await root_api.get(f"{API}/access/groups/ops")
    assert r.json()["data"] == {"comment": "Ops", "members": ["ann@pve"]}
    r = await root_api.get(f"{API}/access/groups")
    assert r.json()["data"] == [{"groupid": "ops", "comment": "Ops", "users": "ann@pve"}]
    r = await root_api.put(f"{API}/access/groups/ops", data={"comment": "Operations"})
    assert r.status_code == 200, r.text
    await grant(root_api, "/vms", "PVEAuditor", groups="ops")
    r = await root_api.delete(f"{API}/access/groups/ops")
    assert r.status_code == 200, r.text
    r = await root_api.get(f"{API}/access/groups/ops")
    assert r.status_code == 404
    acl = (await root_api.get(f"{API}/access/acl")).json()["data"]
    assert [a for a in acl if a["type"] == "group"] == []
    user = (await root_api.get(f"{API}/access/users/ann@pve")).json()["data"]
    assert user["groups"] == []


async def test_group_list_filtered_by_privilege(
    root_api: httpx.AsyncClient, user_session: UserFactory
) -> None:
    for g in ("a", "b"):
        await root_api.post(f"{API}/access/groups", data={"groupid": g})
    sess = await user_session("gl@pve", "PVEAuditor", "/access/groups/b")
    r = await sess.get("/access/groups")
    assert [g["groupid"] for g in r.json()["data"]] == ["b"]
    r = await sess.post("/access/groups", data={"groupid": "c"})
    assert r.status_code == 403


async def test_custom_role_lifecycle(root_api: httpx.AsyncClient) -> None:
    roles = f"{API}/access/roles"
    r = await root_api.post(roles, data={"roleid": "Helper", "privs": "VM.Audit,VM.Console"})
    assert r.status_code == 200, r.text
    r = await root_api.get(f"{roles}/Helper")
    assert r.json()["data"] == {"VM.Audit": 1, "VM.Console": 1}
    r = await root_api.put(f"{roles}/Helper", data={"privs": "VM.PowerMgmt", "append": "1"})
    assert r.status_code == 200, r.text
    r = await root_api.get(f"{roles}/Helper")
    assert sorted(r.json()["data"]) == ["VM.Audit", "VM.Console", "VM.PowerMgmt"]
    r = await root_api.put(f"{roles}/Helper", data={"privs": "VM.Audit"})
    assert sorted((await root_api.get(f"{roles}/Helper")).json()["data"]) == ["VM.Audit"]
    listed = {x["roleid"]: x for x in (await root_api.get(roles)).json()["data"]}
    assert listed["Helper"] == {"roleid": "Helper", "privs": "VM.Audit", "special": 0}
    await grant(root_api, "/vms", "Helper", users="root@pam")
    r = await root_api.delete(f"{roles}/Helper")
    assert r.status_code == 200, r.text
    assert (await root_api.get(f"{roles}/Helper")).status_code == 404
    acl = (await root_api.get(f"{API}/access/acl")).json()["data"]
    assert all(a["roleid"] != "Helper" for a in acl)


async def test_role_input_errors(root_api: httpx.AsyncClient) -> None:
    roles = f"{API}/access/roles"
    cases = [
        ("POST", roles, {"roleid": "Bad", "privs": "VM.Fly"}, 400, "privs"),
        ("POST", roles, {"roleid": "PVEAdmin"}, 400, "roleid"),
        ("PUT", f"{roles}/PVEVMUser", {"privs": "VM.Audit"}, 400, "roleid"),
        ("DELETE", f"{roles}/Administrator", {}, 400, "roleid"),
        ("PUT", f"{roles}/Nope", {"privs": "VM.Audit"}, 404, None),
    ]
    for http, url, data, status, field in cases:
        r = await root_api.request(http, url, data=data or None)
        assert r.status_code == status, (http, url, r.text)
        if field:
            assert field in err(r)["errors"], r.text


async def test_domains_list_and_builtins(api: httpx.AsyncClient, svc: Services) -> None:
    r = await api.get(f"{API}/access/domains")
    realms = {d["realm"]: d for d in r.json()["data"]}
    assert set(realms) == {"pam", "pve"}
    assert realms["pam"]["type"] == "pam"
    text = svc.store.read_text("domains.cfg")
    assert "pam: pam\n" in text and "pve: pve\n" in text


async def test_domain_update_default_and_tfa(root_api: httpx.AsyncClient, svc: Services) -> None:
    dom = f"{API}/access/domains"
    r = await root_api.put(f"{dom}/pve", data={"default": "1", "comment": "local users"})
    assert r.status_code == 200, r.text
    r = await root_api.get(f"{dom}/pve")
    data = r.json()["data"]
    assert data["default"] == 1 and data["comment"] == "local users" and data["type"] == "pve"
    r = await root_api.put(f"{dom}/pam", data={"default": "1", "tfa": "type=oath,digits=6"})
    assert r.status_code == 200, r.text
    assert "default" not in (await root_api.get(f"{dom}/pve")).json()["data"]
    listed = {d["realm"]: d for d in (await root_api.get(dom)).json()["data"]}
    assert listed["pam"]["tfa"] == "oath"
    r = await root_api.put(f"{dom}/pam", data={"delete": "tfa"})
    assert r.status_code == 200, r.text
    assert "tfa" not in (await root_api.get(f"{dom}/pam")).json()["data"]
    r = await root_api.put(f"{dom}/pam", data={"comment": "x", "digest": "0" * 40})
    assert r.status_code == 409


async def test_domain_errors(root_api: httpx.AsyncClient) -> None:
    dom = f"{API}/access/domains"
    cases = [
        ("POST", dom, {"realm": "pve2", "type": "pve"}, 400),
        ("DELETE", f"{dom}/pam", {}, 400),
        ("DELETE", f"{dom}/nope", {}, 400),
        ("PUT", f"{dom}/pve", {"server1": "ldap.example.com"}, 400),
        ("PUT", f"{dom}/pve", {"tfa": "type=bogus"}, 400),
    ]
    for http, url, data, status in cases:
        r = await root_api.request(http, url, data=data or None)
        assert r.status_code == status, (http, url, data, r.text)


async def test_domain_permissions(root_api: httpx.AsyncClient, user_session: UserFactory) -> None:
    sess = await user_session("aud@pve", "PVEAuditor", "/")
    assert (await sess.get("/access/domains/pve")).status_code == 200
    r = await sess.put("/access/domains/pve", data={"comment": "mine"})
    assert r.status_code == 403
    data = (await root_api.get(f"{API}/access/domains/pve")).json()["data"]
    assert data.get("comment") != "mine"


async def test_user_create_needs_existing_realm(root_api: httpx.AsyncClient) -> None:
    r = await root_api.post(f"{API}/access/users", data={"userid": "x@nowhere"})
    assert r.status_code == 400
    assert "does not exist" in err(r)["errors"]["userid"]
