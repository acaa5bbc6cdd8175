"""``/cluster/config``: create a cluster, join one, add/remove nodes, totem, QDevice.

Declared after the upstream contract; create and join run as tasks (return a UPID).
Pyxis extensions (in ``data/extensions.json``): the ``user`` parameter of join (upstream
always logs in as root@pam), and the endpoints behind the ``pvecm`` subcommands that
upstream runs inside the CLI process as root (``quorum``, ``expected``, QDevice
setup/remove, ``updatecerts``): Pyxis CLIs always go through the daemon.
"""

from __future__ import annotations

from typing import Any

from pyxis.api.common import BOOL, INT, NODE, STR, array_of, dir_index, obj, opt, perm, subdirs
from pyxis.api.context import Call
from pyxis.cluster import certs, lifecycle, quorumctl
from pyxis.cluster import corosync_conf as cc
from pyxis.errors import Conflict, PyxisError
from pyxis.schema.registry import method
from pyxis.store.base import digest

AUDIT = perm("/", ["Sys.Audit"])
MODIFY = perm("/", ["Sys.Modify"])
FP: dict[str, Any] = {"type": "string", "pattern": "([A-Fa-f0-9]{2}:){31}[A-Fa-f0-9]{2}"}
LINK: dict[str, Any] = {
    "type": "string",
    "optional": 1,
    "format": lifecycle.LINK_FORMAT,
    "x-index-max": cc.MAX_LINKS - 1,
}
LINKS = {"link[n]": LINK}


@method("GET", "/cluster/config", name="index", permissions=AUDIT, returns=dir_index())
async def index(call: Call, p: dict[str, Any]) -> list[dict[str, str]]:
    """Directory index."""
    return subdirs("apiversion", "join", "nodes", "qdevice", "totem")


@method(
    "POST",
    "/cluster/config",
    name="create",
    permissions=MODIFY,
    protected=True,
    parameters={
        "clustername": {"type": "string", "format": "pve-node", "maxLength": 15},
        **LINKS,
        "nodeid": opt(INT, minimum=1),
        "votes": opt(INT, minimum=1),
        "token-coefficient": opt(INT, minimum=0, default=125),
    },
    returns=STR,
)
async def create(call: Call, p: dict[str, Any]) -> str:
    """Create a new cluster with this node as its first member (a task)."""
    conf = await lifecycle.check_create(call.svc, p)
    if p.get("token-coefficient") is not None:
        conf.totem.extra["token_coefficient"] = str(p["token-coefficient"])
    svc = call.svc

    async def work(tlog: Any) -> None:
        await lifecycle.create(svc, conf, tlog)

    return await svc.tasks.start("clustercreate", str(p["clustername"]), call.authid, work)


@method(
    "GET",
    "/cluster/config/apiversion",
    name="join_api_version",
    permissions=AUDIT,
    returns={"type": "integer", "minimum": 0},
)
async def apiversion(call: Call, p: dict[str, Any]) -> int:
    """The version of the join protocol this node speaks."""
    return lifecycle.JOIN_API_VERSION


@method(
    "GET",
    "/cluster/config/join",
    name="join_info",
    permissions=AUDIT,
    parameters={"node": opt(NODE, default="current connected node")},
    returns={"type": "object"},
)
async def join_info(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """What a joining node needs to know: nodes with their certificate fingerprints, totem."""
    svc = call.svc
    raw = svc.store.read("corosync.conf")
    if raw is None:
        raise Conflict(lifecycle.NOT_CLUSTERED)
    conf = cc.parse(raw.decode())
    preferred = p.get("node") or svc.node
    if conf.node(preferred) is None:
        raise PyxisError(f"unknown node '{preferred}'", status=400)
    nodelist = []
    for n in conf.nodes:
        cert = svc.store.read(certs.node_paths(n.name)[0])
        from pyxis.server.tls import fingerprint

        item: dict[str, Any] = {
            "name": n.name,
            "nodeid": n.nodeid,
            "quorum_votes": n.quorum_votes,
            "pve_addr": n.rings.get(0, ""),
            "pve_fp": fingerprint(cert) if cert else "",
        }
        item.update({f"ring{i}_addr": a for i, a in n.rings.items()})
        nodelist.append(item)
    return {
        "nodelist": nodelist,
        "preferred_node": preferred,
        "totem": _totem(conf),
        "config_digest": digest(raw),
    }


def _totem(conf: cc.CorosyncConf) -> dict[str, Any]:
    t = conf.totem
    out: dict[str, Any] = {
        "cluster_name": t.cluster_name,
        "config_version": str(t.config_version),
        **t.extra,
    }
    if t.interfaces:
        out["interface"] = {
            str(i.linknumber): {"linknumber": str(i.linknumber), **i.extra} for i in t.interfaces
        }
    return out


@method(
    "POST",
    "/cluster/config/join",
    name="join",
    permissions=MODIFY,
    protected=True,
    parameters={
        "hostname": STR,
        "fingerprint": FP,
        "password": {"type": "string", "maxLength": 128},
        "force": opt(BOOL),
        **LINKS,
        "nodeid": opt(INT, minimum=1),
        "votes": opt(INT, minimum=0),
        "user": opt({"type": "string", "format": "pve-userid", "maxLength": 64}),
    },
    returns=STR,
)
async def join(call: Call, p: dict[str, Any]) -> str:
    """Join this node to the cluster of ``hostname`` (a task)."""
    svc = call.svc
    lifecycle.check_join(svc, p)

    async def work(tlog: Any) -> None:
        await lifecycle.join(svc, p, tlog)

    return await svc.tasks.start("clusterjoin", "", call.authid, work)


@method(
    "GET",
    "/cluster/config/nodes",
    name="nodes",
    permissions=AUDIT,
    returns=array_of(obj(node=STR)),
)
async def nodes(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """The nodes of corosync.conf."""
    conf = lifecycle.require_conf(call.svc)
    out = []
    for n in conf.nodes:
        item: dict[str, Any] = {
            "node": n.name,
            "name": n.name,
            "nodeid": n.nodeid,
            "quorum_votes": n.quorum_votes,
        }
        item.update({f"ring{i}_addr": a for i, a in n.rings.items()})
        out.append(item)
    return out


@method(
    "POST",
    "/cluster/config/nodes/{node}",
    name="addnode",
    permissions=MODIFY,
    protected=True,
    parameters={
        "node": NODE,
        "new_node_ip": opt({"type": "string", "format": "ip"}),
        **LINKS,
        "nodeid": opt(INT, minimum=1),
        "votes": opt(INT, minimum=0),
        "force": opt(BOOL),
        "apiversion": opt(INT),
    },
    returns=obj(corosync_authkey=STR, corosync_conf=STR, warnings=array_of({"type": "string"})),
)
async def addnode(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Add a node to corosync.conf (called by the joining node)."""
    return await lifecycle.addnode(call.svc, str(p.pop("node")), p)


@method(
    "DELETE",
    "/cluster/config/nodes/{node}",
    name="delnode",
    permissions=MODIFY,
    protected=True,
    parameters={"node": NODE},
)
async def delnode(call: Call, p: dict[str, Any]) -> None:
    """Remove a node from the cluster configuration."""
    await lifecycle.delnode(call.svc, str(p["node"]))


@method("GET", "/cluster/config/totem", name="totem", permissions=AUDIT, returns={"type": "object"})
async def totem(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """The totem section of corosync.conf."""
    return _totem(lifecycle.require_conf(call.svc))


@method(
    "GET",
    "/cluster/config/qdevice",
    name="status",
    permissions=AUDIT,
    protected=True,
    returns={"type": "object"},
)
async def qdevice_status(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """The quorum device, its configuration and whether it votes."""
    return await quorumctl.qdevice_status(call.svc)
