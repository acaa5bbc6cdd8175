"""Forming the testbed's cluster through the product's own ``pvecm``, and the qnetd host.

After every node's ``pyxisd`` serves standalone, ``pvecm create`` runs on the first node
and ``pvecm add`` (pinned certificate fingerprint, ``admin@pve`` credentials on stdin) on
each other node in turn: corosync is started by ``pyxisd`` itself, exactly as on real
hosts.  With ``--qdevice`` an extra namespace runs ``corosync-qnetd`` (private ``/run``,
``-s off``: no TLS, see docs/cluster.md) and ``pvecm qdevice setup`` points the cluster
at it.  With ``--links 3`` the third network becomes datacenter.cfg's migration network.
"""

from __future__ import annotations

import json
import shutil
import time

from pyxis.cluster.joinclient import peer_fingerprint
from pyxis.testbed.model import NodeState, Testbed
from pyxis.testbed.nodes import ADMIN, NodeError, _spawn, alive, node_cli

JOIN_TIMEOUT = 180.0
QUORATE_TIMEOUT = 60.0
_PRIVATE_RUN = 'mount -t tmpfs tmpfs /run && mkdir -p /run/corosync-qnetd && exec "$0" "$@"'


def start_qnetd(tb: Testbed) -> int:
    """Start corosync-qnetd (no TLS, foreground) in the qnetd namespace."""
    q = tb.qnetd
    assert q is not None
    binary = shutil.which("corosync-qnetd")
    if binary is None:
        raise NodeError("--qdevice needs corosync-qnetd (Debian package corosync-qnetd)")
    argv = ["ip", "netns", "exec", q.netns, "unshare", "-m", "sh", "-c", _PRIVATE_RUN]
    argv += [binary, "-f", "-s", "off"]
    pid = _spawn(argv, tb.log_dir / "qnetd.log")
    q.pids["qnetd"] = pid
    time.sleep(0.3)
    if not alive(pid):
        raise NodeError(f"corosync-qnetd exited at start (see {tb.log_dir / 'qnetd.log'})")
    return pid


def _link_args(node: NodeState) -> list[str]:
    args = ["--link0", node.address]
    if node.extra_addresses:
        args += ["--link1", node.extra_addresses[0]]
    return args


def form(tb: Testbed, password: str) -> None:
    """Create the cluster on the first node and join the others one after another."""
    first = tb.nodes[0]
    node_cli(tb, first, "pvecm", "create", tb.cluster_name, *_link_args(first), timeout=120)
    fingerprint = peer_fingerprint(first.address)
    for node in tb.nodes[1:]:
        node_cli(
            tb,
            node,
            "pvecm",
            "add",
            first.address,
            "--fingerprint",
            fingerprint,
            "--user",
            ADMIN,
            *_link_args(node),
            input=password + "\n",
            timeout=JOIN_TIMEOUT,
        )
    if tb.qnetd is not None:
        force = ["--force"] if len(tb.nodes) % 2 else []
        node_cli(tb, first, "pvecm", "qdevice", "setup", tb.qnetd.address, *force)
    if tb.links >= 3:
        cidr = f"{tb.subnet(2)}.0/24"
        node_cli(
            tb,
            first,
            "pvesh",
            "set",
            "/cluster/options",
            "--migration",
            f"type=secure,network={cidr}",
        )
    wait_quorate(tb)


def quorum(tb: Testbed, node: NodeState) -> dict[str, object] | None:
    """The node's votequorum view (``pvecm status`` as JSON), None when unavailable."""
    try:
        out = node_cli(tb, node, "pvecm", "status", "--output-format", "json", timeout=10)
        data = json.loads(out)
    except (NodeError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def wait_quorate(tb: Testbed, timeout: float = QUORATE_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    pending = list(tb.nodes)
    while pending and time.monotonic() < deadline:
        pending = [n for n in pending if not (quorum(tb, n) or {}).get("quorate")]
        if pending:
            time.sleep(0.5)
    if pending:
        names = ", ".join(n.name for n in pending)
        raise NodeError(f"cluster not quorate on {names} after {timeout:.0f}s")
