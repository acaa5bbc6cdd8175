"""Container config handling through the API, in process, without running LXC.

A container config is written into the node's store (as a create would leave it) with
a subvolume directory on ``local``; the tests read and change it through the API:
typed values and ``digest``, deletes and reverts, read-only and unknown keys, the
root-only keys (host bind mounts, raw ``lxc.*``) refused for other users, shell
metacharacters in host names, listing/status of a stopped container, ``exec`` on a
stopped one, snapshots refused on a ``dir`` subvolume, and ``rrddata``.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from funchelp import NODE, UserFactory

from pyxis.services import Services

API = "/api2/json"
CTS = f"{API}/nodes/{NODE}/lxc"
REL = f"/nodes/{NODE}/lxc"  # for Sess clients, which add the API prefix
VMID = 150
CONF = (
    "arch: amd64\n"
    "hostname: ct150\n"
    "memory: 256\n"
    "net0: bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=dhcp,name=eth0\n"
    "ostype: unmanaged\n"
    f"rootfs: local:{VMID}/subvol-{VMID}-disk-0.subvol,size=0T\n"
    "swap: 0\n"
)


@pytest.fixture
async def ct(svc: Services) -> int:
    vol = svc.paths.default_storage / f"images/{VMID}/subvol-{VMID}-disk-0.subvol"
    vol.mkdir(parents=True)
    await svc.store.create(f"nodes/{NODE}/lxc/{VMID}.conf", CONF.encode(), writer=NODE)
    return VMID


async def test_config_read_and_change(root_api: httpx.AsyncClient, ct: int) -> None:
    r = await root_api.get(f"{CTS}/{ct}/config")
    conf = r.json()["data"]
    assert conf["memory"] == 256 and conf["hostname"] == "ct150" and conf["swap"] == 0
    digest = conf["digest"]
    r = await root_api.put(f"{CTS}/{ct}/config", data={"memory": "512", "digest": digest})
    assert r.status_code == 200, r.text
    r = await root_api.put(f"{CTS}/{ct}/config", data={"memory": "1024", "digest": digest})
    assert r.status_code == 409
    r = await root_api.put(f"{CTS}/{ct}/config", data={"delete": "swap", "cores": "2"})
    assert r.status_code == 200, r.text
    conf = (await root_api.get(f"{CTS}/{ct}/config")).json()["data"]
    assert conf["memory"] == 512 and conf["cores"] == 2 and "swap" not in conf
    pending = (await root_api.get(f"{CTS}/{ct}/pending")).json()["data"]
    assert {"key": "cores", "value": "2"} in pending


@pytest.mark.parametrize(
    ("data", "status", "needle"),
    [
        ({"hostname": "a;reboot"}, 400, "hostname"),
        ({"hostname": "$(id)"}, 400, "hostname"),
        ({"unprivileged": "1"}, 400, "read-only"),
        ({"nosuchkey": "1"}, 400, "nosuchkey"),
        ({"net0": "name=eth0,bridge=vmbr0,ip=300.1.1.1/24"}, 400, "net0"),
        ({"delete": "rootfs"}, 400, "rootfs"),
        ({"mp0": "/nonexistent-host-dir,mp=/mnt"}, 400, "does not exist"),
    ],
)
async def test_bad_values(
    root_api: httpx.AsyncClient, ct: int, data: dict[str, str], status: int, needle: str
) -> None:
    r = await root_api.put(f"{CTS}/{ct}/config", data=data)
    assert r.status_code == status, r.text
    assert needle in r.text


async def test_root_only_keys(
    root_api: httpx.AsyncClient, user_session: UserFactory, ct: int, tmp_path: Path
) -> None:
    admin = await user_session("ctadm@pve", role="Administrator")
    r = await admin.put(f"{REL}/{ct}/config", data={"mp0": f"{tmp_path},mp=/mnt/host"})
    assert r.status_code == 403, r.text
    r = await admin.put(f"{REL}/{ct}/config", data={"lxc.init.cmd": "/bin/sh"})
    assert r.status_code in (400, 403), r.text
    r = await admin.put(f"{REL}/{ct}/config", data={"memory": "300"})
    assert r.status_code == 200, r.text
    r = await root_api.put(f"{CTS}/{ct}/config", data={"mp0": f"{tmp_path},mp=/mnt/host"})
    assert r.status_code == 200, r.text
    auditor = await user_session("aud@pve", role="PVEAuditor")
    assert (await auditor.put(f"{REL}/{ct}/config", data={"memory": "64"})).status_code == 403
    r = await admin.post(
        f"{REL}", data={"vmid": "151", "ostemplate": "local:vztmpl/x.tar.zst",
                        "mp0": f"{tmp_path},mp=/mnt"}
    )  # fmt: skip
    assert r.status_code == 403, r.text


async def test_stopped_container_views(root_api: httpx.AsyncClient, svc: Services, ct: int) -> None:
    listing = (await root_api.get(CTS)).json()["data"]
    assert [(c["vmid"], c["status"], c["name"]) for c in listing] == [(ct, "stopped", "ct150")]
    cur = (await root_api.get(f"{CTS}/{ct}/status/current")).json()["data"]
    assert cur["status"] == "stopped" and cur["maxmem"] == 256 << 20 and cur["type"] == "lxc"
    r = await root_api.post(f"{CTS}/{ct}/exec", data={"command": "true"})
    assert r.status_code == 409, r.text
    r = await root_api.post(f"{CTS}/{ct}/snapshot", data={"snapname": "s1"})
    assert r.status_code == 400 and "snapshot feature is not available" in r.text
    svc.metrics.record("lxc", ct, {"cpu": 0.5, "mem": 1024.0})
    rows = (await root_api.get(f"{CTS}/{ct}/rrddata", params={"timeframe": "hour"})).json()
    assert isinstance(rows["data"], list) and rows["data"]
    r = await root_api.get(f"{CTS}/999/rrddata", params={"timeframe": "hour"})
    assert r.status_code == 404
    resources = (await root_api.get(f"{API}/cluster/resources")).json()["data"]
    assert any(x.get("id") == f"lxc/{ct}" and x.get("status") == "stopped" for x in resources)


async def test_create_refusals(root_api: httpx.AsyncClient) -> None:
    base = {"vmid": "160", "ostemplate": "local:vztmpl/missing.tar.zst"}
    r = await root_api.post(CTS, data={**base, "hostname": "bad name"})
    assert r.status_code == 400
    r = await root_api.post(CTS, data={**base, "ostemplate": "local:iso/x.iso"})
    assert r.status_code == 400 and "not a container template" in r.text
    r = await root_api.post(CTS, data={**base, "rootfs": "nosuch:1"})
    assert r.status_code == 400 and "does not exist" in r.text
    r = await root_api.post(CTS, data={**base, "ssh-public-keys": "not a key"})
    assert r.status_code == 400 and "ssh-public-keys" in r.text
