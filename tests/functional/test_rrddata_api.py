"""``rrddata`` of node, VM and storage, fed through the collector with a synthetic clock."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from funchelp import NODE, UserFactory

from pyxis.services import Services

# aligned to every row width, so rows start at T0
T0 = 4_838_400 * 350
N = f"/api2/json/nodes/{NODE}"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(svc: Services) -> Clock:
    c = Clock(T0)
    svc.metrics.clock = c
    return c


async def rows(client: httpx.AsyncClient, path: str, **params: str) -> list[dict[str, Any]]:
    r = await client.get(f"/api2/json{path}", params=params)
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


async def make_vm(svc: Services, vmid: int, conf: str = "memory: 1024\ncores: 2\n") -> None:
    await svc.store.create(f"nodes/{NODE}/qemu-server/{vmid}.conf", conf.encode(), writer=NODE)


def node_values(cpu: float, memused: float) -> dict[str, float]:
    return {"cpu": cpu, "maxcpu": 4, "memtotal": 8e9, "memused": memused, "netin": 100.5}


async def test_node_rrddata_shape_and_values(
    svc: Services, clock: Clock, root_api: httpx.AsyncClient
) -> None:
    for minute in range(5):
        for second in (0, 20, 40):  # three samples per minute, averaged into one point
            clock.now = T0 + minute * 60 + second
            svc.metrics.record("node", NODE, node_values(0.1 * minute + second / 400, 1e9))
    data = await rows(root_api, f"/nodes/{NODE}/rrddata", timeframe="hour")
    assert len(data) == 70
    assert [p["time"] for p in data[-5:]] == [T0 + 60 * m for m in range(5)]
    # gaps are rows with a time only, as upstream leaves unknown values out
    assert data[0] == {"time": T0 - 65 * 60}
    last = data[-1]
    assert set(last) == {"time", "cpu", "maxcpu", "memtotal", "memused", "netin"}
    assert last["cpu"] == pytest.approx(0.4 + 0.05)
    assert last["maxcpu"] == 4 and isinstance(last["maxcpu"], int)
    assert last["memused"] == 1_000_000_000
    assert last["netin"] == 100.5


async def test_node_rrddata_consolidation_functions(
    svc: Services, clock: Clock, root_api: httpx.AsyncClient
) -> None:
    for minute in range(31):
        clock.now = T0 + minute * 60 + 1
        svc.metrics.record("node", NODE, {"cpu": 0.9 if minute == 7 else 0.1})
    avg = await rows(root_api, f"/nodes/{NODE}/rrddata", timeframe="day")
    peak = await rows(root_api, f"/nodes/{NODE}/rrddata", timeframe="day", cf="MAX")
    assert [p["time"] for p in avg[-2:]] == [T0, T0 + 1800]
    assert avg[-2]["cpu"] == pytest.approx((0.9 + 29 * 0.1) / 30)
    assert peak[-2]["cpu"] == pytest.approx(0.9)
    decade = await rows(root_api, f"/nodes/{NODE}/rrddata", timeframe="decade")
    assert len(decade) == 70


async def test_collector_round_samples_node_and_storages(
    svc: Services, clock: Clock, root_api: httpx.AsyncClient
) -> None:
    await make_vm(svc, 100)
    await svc.metrics.sample_once()
    await asyncio.sleep(0.05)  # let the CPU jiffies move on
    clock.now += 10
    await svc.metrics.sample_once()
    node = svc.metrics.latest("node", NODE)
    assert node is not None and node.time == T0 + 10
    assert 0.0 <= (node.values["cpu"] or 0.0) <= 1.0
    last = (await rows(root_api, f"/nodes/{NODE}/rrddata", timeframe="hour"))[-1]
    assert {"cpu", "iowait", "loadavg", "memtotal", "memused", "roottotal", "rootused"} <= set(last)
    assert {"swaptotal", "swapused"} <= set(last)
    assert 0 < last["memused"] <= last["memtotal"]
    local = await rows(root_api, f"/nodes/{NODE}/storage/local/rrddata", timeframe="hour")
    assert len(local) == 70
    assert 0 < local[-1]["used"] <= local[-1]["total"]
    # a stopped VM is graphed with its sizes and no activity
    vm = (await rows(root_api, f"/nodes/{NODE}/qemu/100/rrddata", timeframe="hour"))[-1]
    assert vm["maxmem"] == 1024 * 1024 * 1024 and vm["maxcpu"] == 2
    assert vm["cpu"] == 0 and vm["netin"] == 0 and vm["diskwrite"] == 0
    # a removed VM leaves the live view; its history stays on disk
    assert svc.metrics.latest("qemu", 100) is not None
    await svc.store.delete(f"nodes/{NODE}/qemu-server/100.conf")
    clock.now += 10
    await svc.metrics.sample_once()
    assert svc.metrics.latest("qemu", 100) is None
    assert (svc.paths.lib_dir / "rrd" / "qemu" / "100").is_file()


async def test_qemu_rrddata_and_live_counters(
    svc: Services, clock: Clock, root_api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_vm(svc, 101)
    counters = {"netin": 5000, "netout": 7000, "diskread": 1 << 20, "diskwrite": 1 << 21}
    for i in range(3):
        clock.now = T0 + 60 * i + 5
        svc.metrics.record(
            "qemu", 101, {"cpu": 0.25, "netin": 10.0 * i}, counters=counters, pid=4242
        )
    data = await rows(root_api, f"/nodes/{NODE}/qemu/101/rrddata", timeframe="hour", cf="MAX")
    assert [p.get("netin") for p in data[-4:]] == [None, 0, 10, 20]
    assert all(p["cpu"] == 0.25 for p in data[-3:])
    # listings show the cumulative counters of the sample from the same QEMU process
    monkeypatch.setattr(svc.qemu, "pid", lambda vmid: 4242)
    listing = await rows(root_api, f"/nodes/{NODE}/qemu")
    (vm,) = [v for v in listing if v["vmid"] == 101]
    assert {k: vm[k] for k in counters} == counters
    monkeypatch.setattr(svc.qemu, "pid", lambda vmid: 4243)  # restarted: the sample is stale
    (vm,) = [v for v in await rows(root_api, f"/nodes/{NODE}/qemu") if v["vmid"] == 101]
    assert vm["netin"] == 0 and vm["diskread"] == 0


BAD = [
    ("node: timeframe required", f"/nodes/{NODE}/rrddata", {}, 400),
    ("node: unknown timeframe", f"/nodes/{NODE}/rrddata", {"timeframe": "minute"}, 400),
    ("node: unknown cf", f"/nodes/{NODE}/rrddata", {"timeframe": "hour", "cf": "MIN"}, 400),
    ("qemu: no decade", f"/nodes/{NODE}/qemu/100/rrddata", {"timeframe": "decade"}, 400),
    ("qemu: no such VM", f"/nodes/{NODE}/qemu/999/rrddata", {"timeframe": "hour"}, 404),
    ("storage: unknown", f"/nodes/{NODE}/storage/nope/rrddata", {"timeframe": "hour"}, 404),
    ("other node", "/nodes/elsewhere/rrddata", {"timeframe": "hour"}, 595),
]


@pytest.mark.parametrize(
    ("path", "params", "status"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
async def test_bad_requests(
    svc: Services, root_api: httpx.AsyncClient, path: str, params: dict[str, str], status: int
) -> None:
    await make_vm(svc, 100)
    r = await root_api.get(f"/api2/json{path}", params=params)
    assert r.status_code == status, r.text


PERMS = [
    ("auditor on / sees all", "/", "PVEAuditor", [200, 200, 200]),
    ("VM auditor sees only the VM", "/vms/100", "PVEAuditor", [403, 200, 403]),
    ("storage user sees only the storage", "/storage/local", "PVEDatastoreUser", [403, 403, 200]),
    ("no role", "/", None, [403, 403, 403]),
]


@pytest.mark.parametrize(
    ("path", "role", "expected"), [p[1:] for p in PERMS], ids=[p[0] for p in PERMS]
)
async def test_permissions(
    svc: Services, user_session: UserFactory, path: str, role: str | None, expected: list[int]
) -> None:
    await make_vm(svc, 100)
    sess = await user_session("watcher@pve", role=role, path=path)
    got = []
    for url in ("rrddata", "qemu/100/rrddata", "storage/local/rrddata"):
        r = await sess.get(f"/nodes/{NODE}/{url}", params={"timeframe": "hour"})
        got.append(r.status_code)
    assert got == expected
