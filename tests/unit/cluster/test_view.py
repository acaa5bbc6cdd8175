"""ClusterView: corosync.conf from the store, online flags and quorum from a fake link."""

from __future__ import annotations

import pytest
from clusterhelp import NODE, PEERS, corosync_conf

from pyxis.cluster.link import StaticLink
from pyxis.cluster.view import ClusterView, read_config
from pyxis.services import Services


def test_read_config_takes_name_version_and_nodes_in_id_order() -> None:
    conf = read_config(corosync_conf({"b": ("10.0.0.2", 2), "a": ("10.0.0.1", 1)}, "clu", 7))
    assert conf.name == "clu"
    assert conf.config_version == 7
    assert [(n.name, n.nodeid, n.ip, n.votes) for n in conf.nodes] == [
        ("a", 1, "10.0.0.1", 1),
        ("b", 2, "10.0.0.2", 1),
    ]


async def test_standalone_reports_the_local_node_only(svc: Services) -> None:
    view = svc.cluster
    assert not view.clustered
    assert view.quorate
    assert view.status_entries() == [
        {
            "id": f"node/{NODE}",
            "name": NODE,
            "type": "node",
            "ip": "127.0.0.1",
            "level": "",
            "local": 1,
            "nodeid": 0,
            "online": 1,
        }
    ]
    assert view.members_info() is None
    assert list(view.members_json()["nodelist"]) == [NODE]
    await view.start()  # no-op without corosync.conf
    assert view.link is None


async def test_cluster_status_follows_membership(
    clustered: tuple[Services, StaticLink],
) -> None:
    svc, link = clustered
    entries = svc.cluster.status_entries()
    assert entries[0] == {
        "id": "cluster",
        "type": "cluster",
        "name": "testclu",
        "nodes": 3,
        "quorate": 1,
        "version": 3,
    }
    nodes = {e["name"]: e for e in entries[1:]}
    assert nodes["node2"] == {
        "id": "node/node2",
        "name": "node2",
        "type": "node",
        "ip": "10.9.0.2",
        "level": "",
        "local": 0,
        "nodeid": 2,
        "online": 1,
    }
    assert nodes[NODE]["local"] == 1
    before = svc.cluster.members_version
    link.set_members([1, 2], quorate=True)
    assert svc.cluster.members_version > before
    assert not svc.cluster.is_online("node3")
    assert svc.cluster.is_online("node2")
    link.set_members([1], quorate=False)
    entries = svc.cluster.status_entries()
    assert entries[0]["quorate"] == 0
    assert [e["online"] for e in entries[1:]] == [1, 0, 0]  # the local node is always online


async def test_members_json_has_the_live_member_list(
    clustered: tuple[Services, StaticLink],
) -> None:
    svc, link = clustered
    link.set_members([1, 3])
    doc = svc.cluster.members_json()
    assert doc["cluster"] == {"name": "testclu", "version": 3, "nodes": 3, "quorate": 1}
    assert doc["nodelist"]["node2"] == {"id": 2, "online": 0, "ip": "10.9.0.2"}
    assert doc["nodelist"]["node3"]["online"] == 1


async def test_a_broken_corosync_conf_keeps_the_last_good_view(
    clustered: tuple[Services, StaticLink],
) -> None:
    svc, _ = clustered
    assert len(svc.cluster.nodes()) == 3
    await svc.store.write("corosync.conf", b"totem {\n", writer=NODE)
    assert [n.name for n in svc.cluster.nodes()] == [NODE, "node2", "node3"]


async def test_stopped_view_shows_others_offline_and_no_quorum(
    clustered: tuple[Services, StaticLink],
) -> None:
    svc, _ = clustered
    await svc.cluster.stop()
    assert not svc.cluster.quorate
    assert [svc.cluster.is_online(n) for n in PEERS] == [True, False, False]


@pytest.mark.parametrize(("name", "found"), [(NODE, True), ("node3", True), ("nodeX", False)])
async def test_node_lookup(clustered: tuple[Services, StaticLink], name: str, found: bool) -> None:
    svc, _ = clustered
    assert (svc.cluster.node(name) is not None) is found
    assert isinstance(svc.cluster, ClusterView)


async def test_a_standalone_view_starts_once_corosync_conf_appears(
    svc: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from pyxis.cluster import view as view_mod

    monkeypatch.setenv("PYXIS_CLUSTER_LINK", "static")
    monkeypatch.setattr(view_mod, "CONF_POLL", 0.01)
    await svc.cluster.start()
    assert svc.cluster.link is None
    await svc.store.write("corosync.conf", corosync_conf(PEERS).encode(), writer=NODE)
    for _ in range(200):
        if svc.cluster.link is not None and svc.cluster.link.connected:
            break
        await asyncio.sleep(0.01)
    assert svc.cluster.quorate
    assert svc.cluster.is_online("node3")
    assert svc.cluster.status_entries()[0]["type"] == "cluster"
