"""Version, nodes, node status and time, cluster status and resources, nextid, options."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from funchelp import NODE, UserFactory

from pyxis.services import Services


async def test_version(root_api: httpx.AsyncClient) -> None:
    data = (await root_api.get("/api2/json/version")).json()["data"]
    assert data["version"].startswith(data["release"])
    assert int(data["release"].split(".")[0]) >= 8
    assert len(data["repoid"]) >= 8
    r = await root_api.get(f"/api2/json/nodes/{NODE}/version")
    assert r.json()["data"]["version"] == data["version"]


async def test_version_shows_console_option(root_api: httpx.AsyncClient) -> None:
    await root_api.put("/api2/json/cluster/options", data={"console": "xtermjs"})
    assert (await root_api.get("/api2/json/version")).json()["data"]["console"] == "xtermjs"


async def test_nodes_list(root_api: httpx.AsyncClient) -> None:
    r = await root_api.get("/api2/json/nodes")
    (node,) = r.json()["data"]
    assert node["node"] == NODE
    assert node["status"] == "online"
    assert node["type"] == "node"
    assert node["id"] == f"node/{NODE}"
    assert node["maxcpu"] >= 1
    assert node["maxmem"] > 0
    assert 0 <= node["mem"] <= node["maxmem"]
    assert node["uptime"] >= 0
    assert ":" in node["ssl_fingerprint"]


async def test_nodes_list_without_audit_is_reduced(user_session: UserFactory) -> None:
    me = await user_session("plain@pve")
    (node,) = (await me.get("/nodes")).json()["data"]
    assert node == {"node": NODE, "status": "online", "id": f"node/{NODE}", "type": "node"}


async def test_node_status(root_api: httpx.AsyncClient) -> None:
    r = await root_api.get(f"/api2/json/nodes/{NODE}/status")
    data = r.json()["data"]
    assert 0 <= data["cpu"] <= 1
    assert len(data["loadavg"]) == 3
    assert data["uptime"] > 0
    for part in ("memory", "swap", "rootfs"):
        assert data[part]["total"] >= data[part]["used"] >= 0, part
    assert data["memory"]["total"] > 0
    assert data["rootfs"]["total"] > 0
    assert data["cpuinfo"]["cpus"] >= 1
    assert data["current-kernel"]["sysname"] == "Linux"
    assert data["kversion"].startswith("Linux ")
    assert data["pveversion"].startswith("pyxis/")
    assert data["boot-info"]["mode"] in ("efi", "legacy-bios")


async def test_node_index_and_unknown_node(root_api: httpx.AsyncClient) -> None:
    r = await root_api.get(f"/api2/json/nodes/{NODE}")
    assert {"status", "storage", "tasks", "time", "version"} <= {
        d["subdir"] for d in r.json()["data"]
    }
    # another node's status would be proxied: none exist in a single-node setup
    r = await root_api.get("/api2/json/nodes/othernode/status")
    assert r.status_code >= 500
    r = await root_api.get("/api2/json/nodes/bad_node!/status")
    assert r.status_code == 400
    assert "node" in r.json()["errors"]


async def test_node_time(root_api: httpx.AsyncClient) -> None:
    data = (await root_api.get(f"/api2/json/nodes/{NODE}/time")).json()["data"]
    assert abs(data["time"] - time.time()) < 60
    assert abs(data["localtime"] - data["time"]) <= 14 * 3600
    assert isinstance(data["timezone"], str) and data["timezone"]


@pytest.mark.parametrize(
    ("path", "role", "status"),
    [
        (f"/nodes/{NODE}/status", None, 403),
        (f"/nodes/{NODE}/time", None, 403),
        ("/cluster/status", None, 403),
        (f"/nodes/{NODE}/status", "PVEAuditor", 200),
        (f"/nodes/{NODE}/time", "PVEAuditor", 200),
        ("/cluster/status", "PVEAuditor", 200),
        ("/version", None, 200),
        ("/cluster/nextid", None, 200),
        ("/cluster/resources", None, 200),
    ],
)
async def test_node_and_cluster_permissions(
    user_session: UserFactory, path: str, role: str | None, status: int
) -> None:
    me = await user_session("who@pve", role=role)
    r = await me.get(path)
    assert r.status_code == status, r.text
    if status == 403:
        assert r.json()["message"].startswith("Permission check failed")


async def test_cluster_status(root_api: httpx.AsyncClient) -> None:
    data = (await root_api.get("/api2/json/cluster/status")).json()["data"]
    nodes = [e for e in data if e["type"] == "node"]
    assert len(nodes) == 1
    node = nodes[0]
    assert node["name"] == NODE
    assert node["id"] == f"node/{NODE}"
    assert node["online"] == 1
    assert node["local"] == 1
    assert "ip" in node


async def test_cluster_resources(root_api: httpx.AsyncClient, svc: Services) -> None:
    r = await root_api.get("/api2/json/cluster/resources")
    data = r.json()["data"]
    assert {e["type"] for e in data} >= {"node", "storage"}
    for entry in data:
        assert entry["id"]

    r = await root_api.get("/api2/json/cluster/resources", params={"type": "node"})
    nodes = r.json()["data"]
    assert [n["type"] for n in nodes] == ["node"]
    assert nodes[0]["node"] == NODE
    assert nodes[0]["status"] == "online"
    assert nodes[0]["maxcpu"] >= 1

    r = await root_api.get("/api2/json/cluster/resources", params={"type": "storage"})
    storages = r.json()["data"]
    assert {s["type"] for s in storages} == {"storage"}
    (local,) = [s for s in storages if s["storage"] == "local"]
    assert local["id"] == f"storage/{NODE}/local"
    assert local["node"] == NODE
    assert local["plugintype"] == "dir"
    assert local["status"] == "available"
    assert local["maxdisk"] > 0
    assert 0 <= local["disk"] <= local["maxdisk"]

    r = await root_api.get("/api2/json/cluster/resources", params={"type": "vm"})
    assert r.json()["data"] == []
    r = await root_api.get("/api2/json/cluster/resources", params={"type": "pools"})
    assert r.status_code == 400
    assert "type" in r.json()["errors"]


async def test_cluster_resources_are_filtered_by_permission(
    user_session: UserFactory,
) -> None:
    me = await user_session("st@pve", role="PVEDatastoreUser", path="/storage/local")
    data = (await me.get("/cluster/resources")).json()["data"]
    assert [(e["type"], e.get("storage")) for e in data] == [("storage", "local")]


# --- nextid ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "status", "result"),
    [
        ({}, 200, 100),
        ({"vmid": "100"}, 200, 100),
        ({"vmid": "12345"}, 200, 12345),
        ({"vmid": "99"}, 400, None),
        ({"vmid": "0"}, 400, None),
        ({"vmid": "abc"}, 400, None),
        ({"vmid": "1000000000"}, 400, None),
    ],
)
async def test_nextid(
    root_api: httpx.AsyncClient, params: dict[str, str], status: int, result: int | None
) -> None:
    r = await root_api.get("/api2/json/cluster/nextid", params=params)
    assert r.status_code == status, r.text
    if status == 200:
        assert r.json()["data"] == result
    else:
        assert "vmid" in r.json()["errors"]


async def test_nextid_respects_the_configured_range(root_api: httpx.AsyncClient) -> None:
    r = await root_api.put("/api2/json/cluster/options", data={"next-id": "lower=200,upper=300"})
    assert r.status_code == 200, r.text
    assert (await root_api.get("/api2/json/cluster/nextid")).json()["data"] == 200
    r = await root_api.get("/api2/json/cluster/options")
    assert r.json()["data"]["next-id"] == "lower=200,upper=300"
    r = await root_api.put("/api2/json/cluster/options", data={"delete": "next-id"})
    assert r.status_code == 200
    assert (await root_api.get("/api2/json/cluster/nextid")).json()["data"] == 100


# --- datacenter options -----------------------------------------------------------------


async def test_options_get_put_delete(root_api: httpx.AsyncClient, svc: Services) -> None:
    r = await root_api.get("/api2/json/cluster/options")
    assert r.status_code == 200
    assert r.json()["data"] == {}
    r = await root_api.put(
        "/api2/json/cluster/options",
        data={"keyboard": "de", "language": "en", "max_workers": "4", "description": "lab"},
    )
    assert r.status_code == 200, r.text
    data = (await root_api.get("/api2/json/cluster/options")).json()["data"]
    assert data == {"keyboard": "de", "language": "en", "max_workers": 4, "description": "lab"}
    raw = svc.store.read("datacenter.cfg")
    assert raw is not None
    assert b"keyboard: de\n" in raw
    r = await root_api.put(
        "/api2/json/cluster/options", data={"delete": "keyboard,max_workers", "keyboard": "fr"}
    )
    assert r.status_code == 400
    assert "keyboard" in r.json()["errors"]
    r = await root_api.put("/api2/json/cluster/options", data={"delete": "keyboard,max_workers"})
    assert r.status_code == 200, r.text
    data = (await root_api.get("/api2/json/cluster/options")).json()["data"]
    assert data == {"language": "en", "description": "lab"}


@pytest.mark.parametrize(
    ("data", "param"),
    [
        ({"keyboard": "klingon"}, "keyboard"),
        ({"language": "xx"}, "language"),
        ({"max_workers": "0"}, "max_workers"),
        ({"next-id": "lower=abc"}, "next-id"),
        ({"next-id": "lowest=200"}, "next-id"),
        ({"http_proxy": "ftp://proxy"}, "http_proxy"),
        ({"mac_prefix": "zz:zz"}, "mac_prefix"),
        ({"delete": "nosuchkey"}, "nosuchkey"),
        ({"bogus": "1"}, "bogus"),
    ],
)
async def test_bad_options_are_400(
    root_api: httpx.AsyncClient, data: dict[str, str], param: str
) -> None:
    await root_api.put("/api2/json/cluster/options", data={"keyboard": "de"})
    r = await root_api.put("/api2/json/cluster/options", data=data)
    assert r.status_code == 400, r.text
    assert param in r.json()["errors"]
    assert (await root_api.get("/api2/json/cluster/options")).json()["data"] == {"keyboard": "de"}


async def test_options_need_privileges(
    root_api: httpx.AsyncClient, user_session: UserFactory
) -> None:
    await root_api.put("/api2/json/cluster/options", data={"keyboard": "de"})
    plain = await user_session("plain@pve")
    # upstream declares user "all" for reading; writing needs Sys.Modify on /
    r = await plain.get("/cluster/options")
    assert r.status_code == 200
    admin: Any = await user_session("adm@pve", role="PVEAdmin")
    r = await admin.put("/cluster/options", data={"keyboard": "fr"})
    assert r.status_code == 403
    full = await user_session("full@pve", role="Administrator")
    r = await full.put("/cluster/options", data={"keyboard": "fr"})
    assert r.status_code == 200, r.text
    assert (await root_api.get("/api2/json/cluster/options")).json()["data"]["keyboard"] == "fr"


async def test_config_store_status_local_mode(root_api: httpx.AsyncClient, svc: Services) -> None:
    st = (await root_api.get("/api2/json/cluster/config/store")).json()["data"]
    assert st["mode"] == "local" and st["writable"] == 1 and st["node"] == NODE
    assert st["checksum"] == svc.store.checksum() and st["version"] == svc.store.version
    await svc.store.write("pyxis-probe.cfg", b"x\n")
    after = (await root_api.get("/api2/json/cluster/config/store")).json()["data"]
    assert after["checksum"] != st["checksum"] and after["version"] == st["version"] + 1


async def test_config_store_status_needs_sys_audit(user_session: UserFactory) -> None:
    me = await user_session("nostore@pve", role="PVEVMUser", path="/vms")
    assert (await me.get("/cluster/config/store")).status_code == 403


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("GET", "/cluster/config/join", None),
        ("GET", "/cluster/config/nodes", None),
        ("GET", "/cluster/config/totem", None),
        ("GET", "/cluster/config/qdevice", None),
        ("GET", "/cluster/config/quorum", None),
        ("POST", "/cluster/config/expected", {"expected": "1"}),
        ("DELETE", "/cluster/config/qdevice", None),
        ("DELETE", "/cluster/config/nodes/other", None),
    ],
)
async def test_cluster_config_on_a_standalone_node_is_a_409(
    root_api: httpx.AsyncClient, method: str, path: str, data: dict[str, str] | None
) -> None:
    """Asking a standalone node for cluster state is refused, not a server fault."""
    r = await root_api.request(method, f"/api2/json{path}", data=data)
    assert r.status_code == 409, r.text
    assert "cluster" in r.json()["message"]
