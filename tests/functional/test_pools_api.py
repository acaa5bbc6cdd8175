"""Resource pools: CRUD, membership rules, both path styles, and ``pool`` on VM create."""

from __future__ import annotations

import httpx
from funchelp import NODE, UserFactory, err, grant, wait_task

from pyxis.services import Services

API = "/api2/json"
VMS = f"{API}/nodes/{NODE}/qemu"


async def _vm(client: httpx.AsyncClient, vmid: int, **extra: str) -> httpx.Response:
    r = await client.post(VMS, data={"vmid": str(vmid), "memory": "64", **extra})
    if r.status_code == 200:
        status = await wait_task(client, r.json()["data"])
        assert status["exitstatus"] == "OK", status
    return r


async def test_pool_lifecycle(root_api: httpx.AsyncClient, svc: Services) -> None:
    assert (await _vm(root_api, 100)).status_code == 200
    r = await root_api.post(f"{API}/pools", data={"poolid": "helpdesk", "comment": "HD"})
    assert r.status_code == 200, r.text
    r = await root_api.put(f"{API}/pools", data={"poolid": "helpdesk", "vms": "100"})
    assert r.status_code == 200, r.text
    r = await root_api.put(f"{API}/pools/helpdesk", data={"storage": "local"})
    assert r.status_code == 200, r.text
    r = await root_api.get(f"{API}/pools", params={"poolid": "helpdesk"})
    (pool,) = r.json()["data"]
    assert pool["poolid"] == "helpdesk" and pool["comment"] == "HD"
    ids = sorted(m["id"] for m in pool["members"])
    assert ids == ["qemu/100", f"storage/{NODE}/local"]
    r = await root_api.get(f"{API}/pools/helpdesk", params={"type": "qemu"})
    assert [m["vmid"] for m in r.json()["data"]["members"]] == [100]
    assert "pool:helpdesk:HD:100:local:" in svc.store.read_text("user.cfg")
    res = (await root_api.get(f"{API}/cluster/resources")).json()["data"]
    by_id = {e["id"]: e for e in res}
    assert by_id["pool/helpdesk"] == {"id": "pool/helpdesk", "type": "pool", "pool": "helpdesk"}
    assert by_id["qemu/100"]["pool"] == "helpdesk"
    assert by_id[f"storage/{NODE}/local"]["pool"] == "helpdesk"
    vms = (await root_api.get(f"{API}/cluster/resources", params={"type": "vm"})).json()["data"]
    assert [e["type"] for e in vms] == ["qemu"]
    r = await root_api.delete(f"{API}/pools", params={"poolid": "helpdesk"})
    assert r.status_code == 409 and "not empty" in err(r)["message"]
    r = await root_api.put(
        f"{API}/pools", data={"poolid": "helpdesk", "vms": "100", "storage": "local", "delete": "1"}
    )
    assert r.status_code == 200, r.text
    r = await root_api.delete(f"{API}/pools/helpdesk")
    assert r.status_code == 200, r.text
    assert (await root_api.get(f"{API}/pools")).json()["data"] == []


async def test_vm_in_one_pool_only(root_api: httpx.AsyncClient) -> None:
    await _vm(root_api, 101)
    for pid in ("a", "b"):
        await root_api.post(f"{API}/pools", data={"poolid": pid})
    assert (await root_api.put(f"{API}/pools/a", data={"vms": "101"})).status_code == 200
    r = await root_api.put(f"{API}/pools/b", data={"vms": "101"})
    assert r.status_code == 400 and "already a member" in err(r)["errors"]["vms"]
    r = await root_api.put(f"{API}/pools/b", data={"vms": "101", "allow-move": "1"})
    assert r.status_code == 200, r.text
    data = {p["poolid"]: p for p in (await root_api.get(f"{API}/pools")).json()["data"]}
    assert set(data) == {"a", "b"}
    members = (await root_api.get(f"{API}/pools/a")).json()["data"]["members"]
    assert members == []


async def test_pool_input_errors(root_api: httpx.AsyncClient) -> None:
    await root_api.post(f"{API}/pools", data={"poolid": "p"})
    cases = [
        ("POST", f"{API}/pools", {"poolid": "p"}, 400),
        ("POST", f"{API}/pools", {"poolid": "x/y"}, 400),
        ("PUT", f"{API}/pools/p", {"vms": "4242"}, 400),
        ("PUT", f"{API}/pools/p", {"storage": "nostore"}, 400),
        ("PUT", f"{API}/pools/nope", {"comment": "x"}, 404),
        ("GET", f"{API}/pools/nope", {}, 404),
    ]
    for http, url, data, status in cases:
        r = await root_api.request(http, url, data=data or None)
        assert r.status_code == status, (http, url, data, r.text)
    assert (await root_api.post(f"{API}/pools", data={"poolid": "p/child"})).status_code == 200
    assert (await root_api.delete(f"{API}/pools/p")).status_code == 409


async def test_create_vm_into_pool_and_destroy(root_api: httpx.AsyncClient) -> None:
    await root_api.post(f"{API}/pools", data={"poolid": "hd"})
    r = await _vm(root_api, 102, pool="nope")
    assert r.status_code == 400 and "pool" in err(r)["errors"]
    assert (await _vm(root_api, 102, pool="hd")).status_code == 200
    members = (await root_api.get(f"{API}/pools/hd")).json()["data"]["members"]
    assert [m["vmid"] for m in members] == [102]
    r = await root_api.delete(f"{VMS}/102")
    assert r.status_code == 200, r.text
    assert (await wait_task(root_api, r.json()["data"]))["exitstatus"] == "OK"
    assert (await root_api.get(f"{API}/pools/hd")).json()["data"]["members"] == []


async def test_pool_admin_creates_vm_only_in_own_pool(
    root_api: httpx.AsyncClient, user_session: UserFactory
) -> None:
    await root_api.post(f"{API}/pools", data={"poolid": "team"})
    sess = await user_session("pa@pve", "PVEVMAdmin", "/pool/team")
    await grant(root_api, "/storage/local", "PVEDatastoreUser", users="pa@pve")
    r = await sess.post(
        "/nodes/testnode/qemu", data={"vmid": "103", "memory": "64", "pool": "team"}
    )
    assert r.status_code == 200, r.text
    assert (await wait_task(sess.client, r.json()["data"]))["exitstatus"] == "OK"
    r = await sess.post("/nodes/testnode/qemu", data={"vmid": "104", "memory": "64"})
    assert r.status_code == 403
    r = await sess.get("/pools", params={"poolid": "team"})
    assert r.status_code == 403
    r = await root_api.get(f"{API}/pools/team")
    assert [m["vmid"] for m in r.json()["data"]["members"]] == [103]


async def test_pool_membership_needs_vm_allocate(
    root_api: httpx.AsyncClient, user_session: UserFactory
) -> None:
    await _vm(root_api, 105)
    await root_api.post(f"{API}/pools", data={"poolid": "mine"})
    sess = await user_session("pm@pve", "PVEPoolAdmin", "/pool/mine")
    r = await sess.put("/pools/mine", data={"vms": "105"})
    assert r.status_code == 403
    assert (await root_api.get(f"{API}/pools/mine")).json()["data"]["members"] == []
    r = await sess.put("/pools/mine", data={"comment": "ok"})
    assert r.status_code == 200, r.text
