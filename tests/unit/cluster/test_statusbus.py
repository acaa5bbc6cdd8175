"""StatusBus: report encoding, merge of reports per node, staleness; the merged
cluster-wide resource lists built from them."""

from __future__ import annotations

import time
from typing import Any

import pytest
from clusterhelp import NODE

from pyxis.cluster import resources
from pyxis.cluster.link import StaticLink
from pyxis.cluster.statusbus import decode, encode
from pyxis.services import Services


def report(node: str, seq: int = 1, **kw: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "node": node,
        "seq": seq,
        "sent": time.time(),
        "status": {
            "id": f"node/{node}",
            "type": "node",
            "node": node,
            "status": "online",
            "cpu": 0.25,
            "maxcpu": 4,
            "mem": 1,
            "maxmem": 8,
        },
        "guests": [],
        "storages": [],
    }
    doc.update(kw)
    return doc


@pytest.mark.parametrize(
    ("data", "ok"),
    [
        (encode(report("n")), True),
        (b"PXS1garbage", False),
        (b"other-protocol", False),
        (encode({"node": "n", "seq": "1", "status": {}, "guests": [], "storages": []}), False),
        (encode({"node": "n", "seq": 1, "status": {}, "guests": {}, "storages": []}), False),
        (encode(["not", "a", "dict"]), False),  # type: ignore[arg-type]
    ],
)
def test_decode_accepts_only_well_formed_reports(data: bytes, ok: bool) -> None:
    assert (decode(data) is not None) is ok


async def test_newest_report_per_node_wins(clustered: tuple[Services, StaticLink]) -> None:
    svc, _ = clustered
    bus = svc.cluster.bus
    bus.receive(2, encode(report("node2", seq=5, sent=100.0)))
    bus.receive(2, encode(report("node2", seq=4, sent=99.0)))  # late duplicate: ignored
    assert bus.reports["node2"].seq == 5
    bus.receive(2, encode(report("node2", seq=1, sent=200.0)))  # daemon restarted
    assert bus.reports["node2"].seq == 1


async def test_a_node_cannot_report_for_another(clustered: tuple[Services, StaticLink]) -> None:
    svc, _ = clustered
    svc.cluster.bus.receive(3, encode(report("node2")))
    assert "node2" not in svc.cluster.bus.reports


async def test_reports_go_stale_and_offline_nodes_have_none_live(
    clustered: tuple[Services, StaticLink],
) -> None:
    svc, link = clustered
    bus = svc.cluster.bus
    now = [1000.0]
    bus.clock = lambda: now[0]
    bus.receive(2, encode(report("node2")))
    assert bus.live("node2") is not None
    now[0] += bus.stale_after() + 1
    assert bus.live("node2") is None
    assert bus.last("node2") is not None
    now[0] = 1000.0
    link.set_members([1, 3])
    assert bus.live("node2") is None


async def test_publish_sends_the_local_report(clustered: tuple[Services, StaticLink]) -> None:
    svc, _ = clustered
    await svc.cluster.bus.publish()  # the fake link loops it back
    rep = svc.cluster.bus.reports[NODE]
    assert rep.status["node"] == NODE
    assert {s["storage"] for s in rep.storages} == {"local"}


async def write_guest(svc: Services, node: str, vmid: int) -> None:
    await svc.store.write(f"nodes/{node}/qemu-server/{vmid}.conf", b"memory: 512\n", writer=node)


async def test_cluster_resources_merge_remote_reports(
    clustered: tuple[Services, StaticLink],
) -> None:
    svc, link = clustered
    await write_guest(svc, "node2", 200)
    await write_guest(svc, "node2", 201)
    await write_guest(svc, "node3", 300)
    guest = {
        "id": "qemu/200",
        "type": "qemu",
        "vmid": 200,
        "node": "node2",
        "status": "running",
        "name": "web",
        "cpu": 0.5,
        "maxmem": 536870912,
    }
    storage = {
        "id": "storage/node2/local",
        "type": "storage",
        "storage": "local",
        "node": "node2",
        "plugintype": "dir",
        "status": "available",
        "disk": 1,
        "maxdisk": 10,
        "content": "images",
        "shared": 0,
    }
    svc.cluster.bus.receive(2, encode(report("node2", guests=[guest], storages=[storage])))
    svc.cluster.bus.receive(
        3, encode(report("node3", storages=[dict(storage, node="node3", id="storage/node3/local")]))
    )
    link.set_members([1, 2])  # node3 went away

    nodes = {n["node"]: n for n in resources.node_entries(svc)}
    assert nodes[NODE]["status"] == "online"
    assert nodes["node2"]["status"] == "online" and nodes["node2"]["maxcpu"] == 4
    assert nodes["node3"]["status"] == "offline"
    assert "cpu" not in nodes["node3"]

    guests = {g["vmid"]: g for g in resources.guest_entries(svc)}
    assert guests[200]["status"] == "running" and guests[200]["name"] == "web"
    assert guests[201]["status"] == "unknown"  # not (yet) in node2's report
    assert guests[300]["status"] == "unknown"  # node3 is offline
    assert guests[300]["node"] == "node3"

    stores = {s["id"]: s for s in await resources.storage_entries(svc)}
    assert stores["storage/node2/local"]["status"] == "available"
    assert stores["storage/node3/local"]["status"] == "unknown"
    assert "disk" not in stores["storage/node3/local"]
    assert stores[f"storage/{NODE}/local"]["status"] == "available"


async def test_standalone_lists_are_the_local_ones(svc: Services) -> None:
    assert resources.node_entries(svc) == svc.node_resources()
    assert await resources.storage_entries(svc) == await svc.storage_resources()


async def test_reports_carry_tasks_for_cluster_tasks(
    clustered: tuple[Services, StaticLink],
) -> None:
    from types import SimpleNamespace

    from pyxis.api.cluster_tasks import merge_task_lists, node_task_lists

    svc, link = clustered
    upid = "UPID:node2:0000BEEF:00000001:6560F000:qmstart:200:root@pam:"
    task = {"upid": upid, "node": "node2", "starttime": 1700000000, "type": "qmstart"}
    svc.cluster.bus.receive(2, encode(report("node2", tasks=[task, {"no": "upid"}])))
    await svc.cluster.bus.publish()  # our own report carries our list too
    assert svc.cluster.bus.reports[NODE].tasks == []
    link.set_members([1, 3])  # node2 offline: its tasks still happened and stay listed
    lists = node_task_lists(SimpleNamespace(svc=svc))  # type: ignore[arg-type]
    assert lists["node2"] == [task]
    assert [t["upid"] for t in merge_task_lists(lists)] == [upid]


@pytest.mark.parametrize(
    "data",
    [
        encode(report("n", sent=float("inf"))),
        encode(report("n", sent="yesterday")),
        encode(report("n", tasks={"not": "a list"})),
        b"PXS1" + __import__("zlib").compress(b"[" * 100_000 + b"]" * 100_000),
        b"PXS1" + __import__("zlib").compress(b" " * (9 * 1024 * 1024)),  # a zip bomb
    ],
)
def test_decode_refuses_hostile_reports(data: bytes) -> None:
    assert decode(data) is None


async def test_reports_from_unknown_node_ids_or_bad_tasks_are_dropped(
    clustered: tuple[Services, StaticLink],
) -> None:
    svc, _ = clustered
    svc.cluster.bus.receive(42, encode(report("node2")))  # no such node id in corosync.conf
    assert "node2" not in svc.cluster.bus.reports
    bad = {"upid": "UPID:x", "starttime": "soon"}
    svc.cluster.bus.receive(2, encode(report("node2", tasks=[bad])))
    assert svc.cluster.bus.reports["node2"].tasks == []
