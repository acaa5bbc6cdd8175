"""The permission matrix: (subject, path, privilege) -> allowed, through the API.

One fixture builds a small organisation (propagation, NoAccess, groups, pools,
disabled users, privilege-separated tokens); every row asks ``GET /access/permissions``
as root and, for a few rows, the real endpoint as the subject.
"""

from __future__ import annotations

import httpx
import pytest
from funchelp import NODE, ClientFactory, grant, ticket_login, wait_task

from pyxis.services import Services

API = "/api2/json"
PW = "matrix-pw-123"


async def _org(root_api: httpx.AsyncClient) -> dict[str, str]:
    for vmid in (200, 300, 400, 500):
        r = await root_api.post(
            f"{API}/nodes/{NODE}/qemu", data={"vmid": str(vmid), "memory": "64"}
        )
        assert r.status_code == 200, r.text
        await wait_task(root_api, r.json()["data"])
    for userid in ("alice", "bob", "carol", "dave", "eve", "frank"):
        r = await root_api.post(
            f"{API}/access/users", data={"userid": f"{userid}@pve", "password": PW}
        )
        assert r.status_code == 200, r.text
    await grant(root_api, "/vms", "PVEVMUser", users="alice@pve")
    await grant(root_api, "/vms/200", "NoAccess", users="alice@pve")
    await grant(root_api, "/vms", "PVEAuditor", users="bob@pve", propagate=0)
    await root_api.post(f"{API}/access/groups", data={"groupid": "ops"})
    await root_api.put(f"{API}/access/users/carol@pve", data={"groups": "ops"})
    await grant(root_api, "/vms/300", "PVEVMAdmin", groups="ops")
    await grant(root_api, "/vms/500", "PVEVMAdmin", groups="ops")
    await grant(root_api, "/vms/300", "PVEAuditor", users="carol@pve")
    await root_api.post(f"{API}/pools", data={"poolid": "hd"})
    await root_api.put(f"{API}/pools/hd", data={"vms": "400", "storage": "local"})
    await grant(root_api, "/pool/hd", "PVEVMUser", users="dave@pve")
    await grant(root_api, "/", "Administrator", users="eve@pve")
    tokens = {}
    for name, privsep in (("sep", "1"), ("full", "0")):
        r = await root_api.post(
            f"{API}/access/users/eve@pve/token/{name}", data={"privsep": privsep}
        )
        tokens[name] = r.json()["data"]["value"]
    await grant(root_api, "/vms", "PVEAuditor", tokens="eve@pve!sep")
    await grant(root_api, "/", "Administrator", users="frank@pve")
    await root_api.put(f"{API}/access/users/frank@pve", data={"enable": "0"})
    return tokens


MATRIX = [
    # propagation from /vms, NoAccess below it
    ("alice@pve", "/vms/300", "VM.PowerMgmt", True),
    ("alice@pve", "/vms/300", "VM.Allocate", False),
    ("alice@pve", "/vms/200", "VM.Audit", False),
    ("alice@pve", "/", "Sys.Audit", False),
    # propagate=0: only the path itself
    ("bob@pve", "/vms", "VM.Audit", True),
    ("bob@pve", "/vms/300", "VM.Audit", False),
    # group grant; own user entry wins over the group's at the same path
    ("carol@pve", "/vms/500", "VM.Allocate", True),
    ("carol@pve", "/vms/300", "VM.Audit", True),
    ("carol@pve", "/vms/300", "VM.Allocate", False),
    # pool grants reach the pool's guests and storages, not others
    ("dave@pve", "/vms/400", "VM.PowerMgmt", True),
    ("dave@pve", "/vms/300", "VM.PowerMgmt", False),
    ("dave@pve", "/pool/hd", "VM.Console", True),
    ("dave@pve", "/vms/400", "VM.Allocate", False),
    # tokens: privsep = user ∩ token; no privsep = the user's
    ("eve@pve!sep", "/vms/300", "VM.Audit", True),
    ("eve@pve!sep", "/vms/300", "VM.PowerMgmt", False),
    ("eve@pve!sep", "/", "Sys.Audit", False),
    ("eve@pve!full", "/", "Sys.Modify", True),
    ("eve@pve", "/storage/local", "Datastore.Allocate", True),
    # disabled users hold nothing
    ("frank@pve", "/", "Sys.Audit", False),
]


@pytest.mark.parametrize(("subject", "path", "priv", "allowed"), MATRIX)
async def test_matrix(
    root_api: httpx.AsyncClient, subject: str, path: str, priv: str, allowed: bool
) -> None:
    await _org(root_api)
    r = await root_api.get(f"{API}/access/permissions", params={"userid": subject, "path": path})
    assert r.status_code == 200, r.text
    held = r.json()["data"][path]
    assert (priv in held) is allowed, (subject, path, priv, sorted(held))


ENDPOINT_ROWS = [
    ("alice@pve", "DELETE", "/nodes/testnode/qemu/300", {}, False),
    ("alice@pve", "GET", "/nodes/testnode/qemu/300/status/current", {}, True),
    ("alice@pve", "GET", "/nodes/testnode/qemu/300/config", {}, True),
    ("alice@pve", "GET", "/nodes/testnode/qemu/200/config", {}, False),
    ("bob@pve", "GET", "/nodes/testnode/qemu/300/config", {}, False),
    ("carol@pve", "PUT", "/nodes/testnode/qemu/500/config", {"description": "ok"}, True),
    ("dave@pve", "GET", "/nodes/testnode/qemu/400/config", {}, True),
    ("dave@pve", "GET", "/nodes/testnode/qemu/300/config", {}, False),
]


@pytest.mark.parametrize(("subject", "http", "path", "data", "allowed"), ENDPOINT_ROWS)
async def test_matrix_endpoints(
    root_api: httpx.AsyncClient,
    new_client: ClientFactory,
    subject: str,
    http: str,
    path: str,
    data: dict[str, str],
    allowed: bool,
) -> None:
    await _org(root_api)
    sess = await ticket_login(new_client(), subject, PW)
    r = await sess.client.request(http, API + path, data=data or None, headers=sess.headers)
    assert (r.status_code != 403) is allowed, r.text
    if allowed:
        assert r.status_code == 200, r.text


async def test_token_endpoints(root_api: httpx.AsyncClient, new_client: ClientFactory) -> None:
    tokens = await _org(root_api)
    client = new_client()
    hdr = {"Authorization": f"PVEAPIToken=eve@pve!sep={tokens['sep']}"}
    r = await client.get(f"{API}/nodes/{NODE}/qemu/300/config", headers=hdr)
    assert r.status_code == 200, r.text
    r = await client.post(f"{API}/nodes/{NODE}/qemu/300/status/start", headers=hdr)
    assert r.status_code == 403
    r = await client.get(f"{API}/access/permissions", headers=hdr)
    perms = r.json()["data"]
    assert "VM.Audit" in perms["/vms"] and "Sys.Audit" not in perms.get("/", {})


async def test_permissions_of_others_need_sys_audit(
    root_api: httpx.AsyncClient, new_client: ClientFactory, svc: Services
) -> None:
    await _org(root_api)
    alice = await ticket_login(new_client(), "alice@pve", PW)
    r = await alice.get("/access/permissions", params={"userid": "bob@pve"})
    assert r.status_code == 403
    mine = (await alice.get("/access/permissions")).json()["data"]
    assert "VM.PowerMgmt" in mine["/vms"] and "/vms/200" not in mine
    eve = await ticket_login(new_client(), "eve@pve", PW)
    r = await eve.get("/access/permissions", params={"userid": "eve@pve!sep", "path": "/"})
    assert r.json()["data"] == {"/": {}}
    r = await eve.get("/access/permissions", params={"userid": "bob@pve"})
    bob = r.json()["data"]["/vms"]
    assert bob["VM.Audit"] == 1 and "VM.PowerMgmt" not in bob
