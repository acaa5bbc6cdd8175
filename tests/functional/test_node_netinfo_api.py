"""``/nodes/{node}/dns``, ``/hosts``, ``/netstat`` and the fuller ``/status``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from funchelp import NODE, UserFactory

from pyxis.host import netinfo

BASE = f"/api2/json/nodes/{NODE}"


@pytest.fixture
def host_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "resolv.conf").write_text("search lab\nnameserver 192.0.2.53\n")
    (tmp_path / "hosts").write_text("127.0.0.1 localhost\n")
    (tmp_path / "dev").write_text("h1\nh2\ntap100i0: 1 0 0 0 0 0 0 0 2 0 0 0 0 0 0 0\n")
    monkeypatch.setattr(netinfo, "RESOLV_CONF", tmp_path / "resolv.conf")
    monkeypatch.setattr(netinfo, "HOSTS", tmp_path / "hosts")
    monkeypatch.setattr(netinfo, "PROC_NET_DEV", tmp_path / "dev")
    return tmp_path


async def test_dns_hosts_netstat(root_api: httpx.AsyncClient, host_files: Path) -> None:
    dns = (await root_api.get(f"{BASE}/dns")).json()["data"]
    assert dns == {"search": "lab", "dns1": "192.0.2.53"}
    hosts = (await root_api.get(f"{BASE}/hosts")).json()["data"]
    assert hosts["data"] == "127.0.0.1 localhost\n" and len(hosts["digest"]) == 40
    netstat = (await root_api.get(f"{BASE}/netstat")).json()["data"]
    assert netstat == [{"dev": "tap100i0", "vmid": "100", "in": 2, "out": 1}]


async def test_need_sys_audit(user_session: UserFactory, host_files: Path) -> None:
    nobody = await user_session("erin@pve")
    for path in ("dns", "hosts", "netstat", "status"):
        assert (await nobody.get(f"/nodes/{NODE}/{path}")).status_code == 403, path
    # hosts wants Sys.Audit on /, not only on the node
    node_auditor = await user_session("fred@pve", role="PVEAuditor", path=f"/nodes/{NODE}")
    assert (await node_auditor.get(f"/nodes/{NODE}/dns")).status_code == 200
    assert (await node_auditor.get(f"/nodes/{NODE}/hosts")).status_code == 403


async def test_status_is_complete(root_api: httpx.AsyncClient) -> None:
    data = (await root_api.get(f"{BASE}/status")).json()["data"]
    for key in (
        "cpu", "wait", "memory", "swap", "rootfs", "loadavg", "uptime", "kversion",
        "pveversion", "cpuinfo", "boot-info", "current-kernel", "ksm", "idle",
    ):  # fmt: skip
        assert key in data, key
    assert {"model", "cpus", "sockets", "cores", "mhz", "hvm", "user_hz", "flags"} <= set(
        data["cpuinfo"]
    )
    assert data["boot-info"]["mode"] in ("efi", "legacy-bios")
    assert set(data["memory"]) == {"total", "used", "free", "available"}
    index = {d["subdir"] for d in (await root_api.get(BASE)).json()["data"]}
    assert {"syslog", "journal", "termproxy", "dns", "hosts", "netstat"} <= index
