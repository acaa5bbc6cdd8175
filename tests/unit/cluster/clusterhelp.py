"""Helpers of the cluster unit tests: node table and corosync.conf text."""

from __future__ import annotations

NODE = "testnode"  # the node name of the shared ``svc`` fixture
PEERS = {NODE: ("10.9.0.1", 1), "node2": ("10.9.0.2", 2), "node3": ("10.9.0.3", 3)}


def corosync_conf(
    nodes: dict[str, tuple[str, int]], name: str = "testclu", version: int = 3
) -> str:
    entries = "".join(
        f"  node {{\n    name: {n}\n    nodeid: {nid}\n    quorum_votes: 1\n"
        f"    ring0_addr: {ip}\n  }}\n"
        for n, (ip, nid) in nodes.items()
    )
    return (
        f"totem {{\n  cluster_name: {name}\n  config_version: {version}\n  version: 2\n}}\n"
        f"nodelist {{\n{entries}}}\n"
        "quorum {\n  provider: corosync_votequorum\n}\n"
    )
