"""Namespaces, the bridge, veth pairs and partitions of a testbed (``ip`` and ``nft``).

Every node is a network namespace ``pyxis-<id>-n<i>`` whose ``eth0`` is the peer of a
host veth ``pxtb<id>n<i>`` enslaved to the host bridge ``pxtb<id>``.  The bridge holds
``10.251.<id>.1/24`` so the host reaches every node's API; nodes get ``.11``, ``.12``, ...
A partition is an nftables table in each cut-off node's namespace dropping traffic to and
from the other nodes' addresses only, so the host still reaches every node.
"""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
from pathlib import Path

from pyxis.testbed.model import NodeState, Testbed

NFT_TABLE = "pyxis_testbed"
NETNS_DIR = Path("/run/netns")


class NetError(RuntimeError):
    """A network command failed."""


def run(*argv: str, check: bool = True, input: str | None = None) -> str:
    """Run a command, returning its stdout; raise :class:`NetError` when it fails."""
    res = subprocess.run(
        list(argv), capture_output=True, text=True, check=False, input=input, timeout=30
    )
    if check and res.returncode != 0:
        raise NetError(f"{' '.join(argv)}: {res.stderr.strip() or res.returncode}")
    return res.stdout


def link_exists(name: str) -> bool:
    """Whether the host has a network interface ``name``."""
    return Path("/sys/class/net", name).exists()


def netns_exists(name: str) -> bool:
    """Whether the named network namespace exists."""
    return (NETNS_DIR / name).exists()


def pick_id(root: Path) -> int:
    """A testbed id (20..219) derived from ``root``, skipping ids another testbed uses."""
    start = int(hashlib.sha256(str(root.resolve()).encode()).hexdigest(), 16) % 200
    used = {p.name.split("-")[1] for p in NETNS_DIR.glob("pyxis-*-*")}
    for step in range(200):
        tb_id = 20 + (start + step) % 200
        if not link_exists(f"pxtb{tb_id}") and str(tb_id) not in used:
            return tb_id
    raise NetError("no free testbed id (200 testbeds exist?)")


def create_bridge(tb: Testbed) -> None:
    """Create the host bridge with the host's address on the testbed subnet."""
    if not link_exists(tb.bridge):
        run("ip", "link", "add", tb.bridge, "type", "bridge")
    run("ip", "addr", "replace", f"{tb.host_address}/24", "dev", tb.bridge)
    run("ip", "link", "set", tb.bridge, "up")
    for k, bridge in enumerate(tb.extra_bridges, 1):
        if not link_exists(bridge):
            run("ip", "link", "add", bridge, "type", "bridge")
        run("ip", "addr", "replace", f"{tb.subnet(k)}.1/24", "dev", bridge)
        run("ip", "link", "set", bridge, "up")


def create_node(tb: Testbed, node: NodeState) -> None:
    """Create the node's namespace and its veth pair on the bridge, addressed and up."""
    if not netns_exists(node.netns):
        run("ip", "netns", "add", node.netns)
    ns = ("ip", "-n", node.netns)
    run(*ns, "link", "set", "lo", "up")
    if not link_exists(node.veth):
        run(
            "ip",
            "link",
            "add",
            node.veth,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            node.netns,
        )
    run("ip", "link", "set", node.veth, "master", tb.bridge, "up")
    run(*ns, "addr", "replace", f"{node.address}/24", "dev", "eth0")
    run(*ns, "link", "set", "eth0", "up")
    pairs = zip(node.extra_addresses, tb.extra_bridges, strict=False)  # qnetd has none
    for k, (addr, bridge) in enumerate(pairs, 1):
        veth, peer = f"{node.veth}l{k}", f"eth{k}"
        if not link_exists(veth):
            run(
                "ip", "link", "add", veth, "type", "veth", "peer", "name", peer, "netns", node.netns
            )
        run("ip", "link", "set", veth, "master", bridge, "up")
        run(*ns, "addr", "replace", f"{addr}/24", "dev", peer)
        run(*ns, "link", "set", peer, "up")


def netns_pids(netns: str) -> list[int]:
    """Every process living in the namespace (daemon, corosync, guests)."""
    if not netns_exists(netns):
        return []
    out = run("ip", "netns", "pids", netns, check=False)
    return [int(p) for p in out.split() if p.isdigit()]


def partition(tb: Testbed, names: list[str]) -> None:
    """Cut the named nodes off from all other nodes (not from each other, not from the host)."""
    cut = [tb.node(n) for n in names]
    cut_names = {n.name for n in cut}
    # every network of the other nodes (management/link0, link1, migration)
    others = [
        a for n in tb.nodes if n.name not in cut_names for a in (n.address, *n.extra_addresses)
    ]
    heal(tb)
    if not others:
        return
    addrs = ", ".join(others)
    for node in cut:
        rules = (
            f"table inet {NFT_TABLE} {{\n"
            f"  chain input {{ type filter hook input priority -10; policy accept;"
            f" ip saddr {{ {addrs} }} drop; }}\n"
            f"  chain output {{ type filter hook output priority -10; policy accept;"
            f" ip daddr {{ {addrs} }} drop; }}\n"
            "}\n"
        )
        run("ip", "netns", "exec", node.netns, "nft", "-f", "-", input=rules)
    tb.partitioned = sorted(cut_names)


def heal(tb: Testbed) -> None:
    """Remove every partition rule."""
    for node in tb.nodes:
        if netns_exists(node.netns):
            run(
                "ip",
                "netns",
                "exec",
                node.netns,
                "nft",
                "delete",
                "table",
                "inet",
                NFT_TABLE,
                check=False,
            )
    tb.partitioned = []


def teardown(tb: Testbed) -> list[str]:
    """Delete every namespace, veth and the bridge; return what could not be removed."""
    errors: list[str] = []
    for node in [*tb.nodes, *([tb.qnetd] if tb.qnetd else [])]:
        if netns_exists(node.netns):
            with contextlib.suppress(NetError):
                run("ip", "netns", "del", node.netns)
            if netns_exists(node.netns):
                errors.append(f"namespace {node.netns}")
        veths = [node.veth, *(f"{node.veth}l{k}" for k in range(1, tb.links))]
        for veth in veths:
            if link_exists(veth):
                run("ip", "link", "del", veth, check=False)
                if link_exists(veth):
                    errors.append(f"link {veth}")
    for bridge in [tb.bridge, *tb.extra_bridges]:
        if link_exists(bridge):
            run("ip", "link", "del", bridge, check=False)
            if link_exists(bridge):
                errors.append(f"bridge {bridge}")
    return errors
