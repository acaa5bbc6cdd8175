"""The virtual JSON entries pmxcfs serves beside the real tree: ``.members``, ``.vmlist``
and ``.version``.

They are computed on demand from a ``ConfigStore`` (and, for ``.members``, from what the
cluster layer knows about membership) rather than stored, exactly as upstream derives them
from its in-memory state.  Consumers use them as upstream's Perl does: ``.vmlist`` maps a
guest ID to its owner node and type (the node directory holding the config is the owner),
``.members`` lists the nodes, and ``.version`` lets a reader skip re-parsing a config file
whose version has not changed.  In local mode the member list holds only this node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pyxis.store.base import ConfigStore

# Guest IDs as upstream accepts them: 100 .. 999999999, no leading zero.
VMID_RE = re.compile(r"^[1-9][0-9]{2,8}\Z")
GUEST_DIRS = {"qemu-server": "qemu", "lxc": "lxc"}

# Cluster-wide files whose versions ``.version`` reports, as upstream's fixed change list:
# readers cache their parsed form keyed on these versions.
OBSERVED_FILES = (
    "corosync.conf",
    "storage.cfg",
    "datacenter.cfg",
    "user.cfg",
    "domains.cfg",
    "status.cfg",
    "jobs.cfg",
    "vzdump.cron",
    "replication.cfg",
    "notifications.cfg",
    "ceph.conf",
    "authkey.pub",
    "pve-www.key",
    "pve-root-ca.pem",
    "firewall/cluster.fw",
    "ha/resources.cfg",
    "ha/groups.cfg",
    "ha/rules.cfg",
    "ha/fence.cfg",
    "ha/manager_status",
    "ha/crm_commands",
    "sdn/zones.cfg",
    "sdn/vnets.cfg",
    "sdn/subnets.cfg",
    "sdn/controllers.cfg",
    "sdn/ipams.cfg",
    "sdn/dns.cfg",
    "sdn/fabrics.cfg",
    "sdn/.running-config",
    "mapping/pci.cfg",
    "mapping/usb.cfg",
    "mapping/directory.cfg",
    "virtual-guest/cpu-models.conf",
    "virtual-guest/profiles.cfg",
    "priv/shadow.cfg",
    "priv/tfa.cfg",
    "priv/token.cfg",
    "priv/acme/plugins.cfg",
    "priv/notifications.cfg",
)


@dataclass(frozen=True)
class MemberNode:
    """One corosync node as the cluster layer sees it."""

    id: int
    online: bool
    ip: str | None = None


@dataclass(frozen=True)
class ClusterInfo:
    """What ``.members`` reports about a cluster: name, corosync ``config_version``,
    quorum, the member-info version (bumped on every membership change) and the nodes."""

    name: str
    config_version: int
    quorate: bool
    version: int
    nodes: dict[str, MemberNode] = field(default_factory=dict)


def _node_json(node: MemberNode) -> dict[str, Any]:
    out: dict[str, Any] = {"id": node.id, "online": 1 if node.online else 0}
    if node.ip is not None:
        out["ip"] = node.ip
    return out


def members_json(
    store: ConfigStore, node: str, cluster: ClusterInfo | None = None, *, ip: str | None = None
) -> dict[str, Any]:
    """``.members``.  Without cluster info (local mode) the list holds this node alone,
    online, and the version follows the store's global version (membership cannot change
    without a tree change in local mode, so caches keyed on it stay correct)."""
    if cluster is None:
        return {
            "nodename": node,
            "version": store.version,
            "nodelist": {node: _node_json(MemberNode(id=1, online=True, ip=ip))},
        }
    return {
        "nodename": node,
        "version": cluster.version,
        "cluster": {
            "name": cluster.name,
            "version": cluster.config_version,
            "nodes": len(cluster.nodes),
            "quorate": 1 if cluster.quorate else 0,
        },
        "nodelist": {name: _node_json(n) for name, n in sorted(cluster.nodes.items())},
    }


def vmlist_json(store: ConfigStore) -> dict[str, Any]:
    """``.vmlist``: every ``nodes/<node>/{qemu-server,lxc}/<vmid>.conf``, versioned by the
    global version (cheap and safe: bumped by every change).  Should a VMID
    appear twice (a broken state upstream also tolerates), the first one in path order
    is kept, as upstream's scan does not replace an already registered guest."""
    ids: dict[str, dict[str, Any]] = {}
    for entry in store.walk("nodes/"):
        parts = entry.path.split("/")
        if len(parts) != 4 or parts[2] not in GUEST_DIRS or not parts[3].endswith(".conf"):
            continue
        vmid = parts[3][: -len(".conf")]
        if not VMID_RE.match(vmid) or vmid in ids:
            continue
        ids[vmid] = {"node": parts[1], "type": GUEST_DIRS[parts[2]], "version": entry.version}
    return {"version": store.version, "ids": ids}


def version_json(store: ConfigStore) -> dict[str, Any]:
    """``.version``: the global version, the guest-list version and the version of each
    observed cluster-wide file that exists.  The guest-list version is the global one, as
    in ``vmlist_json``: it may change without the list changing, never the reverse."""
    out: dict[str, Any] = {"version": store.version, "vmlist": store.version}
    for path in OBSERVED_FILES:
        entry = store.get(path)
        if entry is not None:
            out[path] = entry.version
    return out
