"""Cluster lifecycle: create a cluster, add a node (both sides of a join), remove a node.

Each operation follows the same phases: check arguments, check prerequisites (this
node's state, the names, ids and addresses in use), then change things; a refused
operation has changed nothing.  ``corosync.conf`` lives in the config store; the node
that edits it bumps ``config_version`` and every node's store watcher
(:func:`pyxis.cluster.control.watch_store`) rewrites its local copy and reloads corosync.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import secrets
from typing import TYPE_CHECKING, Any

from pyxis.cluster import certs
from pyxis.cluster import corosync_conf as cc
from pyxis.cluster.control import STORE_PATH
from pyxis.cluster.joinclient import NodeClient
from pyxis.errors import Conflict, ParamError, PyxisError
from pyxis.schema import propstr
from pyxis.store.base import digest
from pyxis.store.virtual import vmlist_json
from pyxis.util.run import run

if TYPE_CHECKING:
    from pyxis.services import Services
    from pyxis.tasks.manager import TaskLog

JOIN_API_VERSION = 1
JOIN_SYNC_TIMEOUT = 120.0
AUTHKEY_BYTES = 256
LINK_FORMAT: dict[str, Any] = {
    "address": {"type": "string", "format": "address", "default_key": 1},
    "priority": {"type": "integer", "minimum": 0, "maximum": 255, "optional": 1, "default": 0},
}
NOT_CLUSTERED = "node is not in a cluster, no join info available!"


def links_from(params: dict[str, Any]) -> dict[int, tuple[str, int | None]]:
    """``link0``..``link7`` property strings -> {link: (address, priority)}."""
    out: dict[int, tuple[str, int | None]] = {}
    for key, value in params.items():
        if key.startswith("link") and key[4:].isdigit():
            n = int(key[4:])
            if n >= cc.MAX_LINKS:
                raise ParamError.one(key, f"at most {cc.MAX_LINKS} links (link0..link7)")
            try:
                parsed = propstr.parse(LINK_FORMAT, str(value))
            except (ValueError, ParamError) as err:
                raise ParamError.one(key, str(err)) from err
            prio = parsed.get("priority")
            out[n] = (str(parsed["address"]), int(prio) if prio is not None else None)
    return out


async def local_addresses() -> list[str]:
    """Global addresses of this host (its network namespace), IPv4 first."""
    res = await run(["ip", "-j", "addr", "show"], check=False, timeout=10)
    addrs: list[str] = []
    try:
        for iface in json.loads(res.stdout or "[]"):
            for a in iface.get("addr_info", []):
                if a.get("scope") == "global" and a.get("local"):
                    addrs.append(str(a["local"]))
    except ValueError:
        return []
    return sorted(addrs, key=lambda a: ipaddress.ip_address(a).version)


def load_conf(svc: Services) -> cc.CorosyncConf | None:
    """This cluster's corosync.conf from the store (None when not clustered)."""
    text = svc.store.read(STORE_PATH)
    return cc.parse(text.decode()) if text is not None else None


def require_conf(svc: Services) -> cc.CorosyncConf:
    conf = load_conf(svc)
    if conf is None:
        raise Conflict(NOT_CLUSTERED)
    return conf


async def write_conf(svc: Services, conf: cc.CorosyncConf, old: bytes | None) -> None:
    """Validate and store ``conf`` (conditional on the content it was derived from)."""
    conf.validate()
    text = cc.render(conf).encode()
    # the stored text must mean exactly the model: a re-parse that differs would be a
    # value that smuggled structure into the file
    if cc.render(cc.parse(text.decode())).encode() != text:
        raise cc.ConfError("the rendered configuration does not read back identically")
    await svc.store.write(
        STORE_PATH, text, expect_digest=digest(old) if old is not None else None, writer=svc.node
    )


def _refuse_if_clustered(svc: Services) -> None:
    if svc.corosync.configured() or svc.store.get(STORE_PATH) is not None:
        raise Conflict("this node is already part of a cluster (corosync.conf exists)")


def _refuse_if_guests(svc: Services) -> None:
    mine = [v for v, i in vmlist_json(svc.store)["ids"].items() if i["node"] == svc.node]
    if mine:
        raise Conflict(
            f"this node holds guests ({', '.join(sorted(mine)[:10])}): a joining node must "
            "hold none, their ids could clash with the cluster's"
        )


# --- create ------------------------------------------------------------------------
async def check_create(svc: Services, p: dict[str, Any]) -> cc.CorosyncConf:
    """Everything ``create`` needs, checked before any change."""
    name = cc.check_cluster_name(str(p["clustername"]))
    _refuse_if_clustered(svc)
    links = links_from(p)
    if not links:
        addrs = await local_addresses()
        if not addrs:
            raise ParamError.one("link0", "no address found for this node: give --link0")
        links = {0: (addrs[0], None)}
    return cc.new_cluster(
        name, svc.node, links, nodeid=int(p.get("nodeid") or 1), votes=int(p.get("votes") or 1)
    )


async def create(svc: Services, conf: cc.CorosyncConf, tlog: TaskLog) -> None:
    """Make this node the first member of the cluster ``conf`` describes."""
    _refuse_if_clustered(svc)
    tlog.log(f"creating cluster '{conf.totem.cluster_name}' with node {svc.node}")
    authkey = secrets.token_bytes(AUTHKEY_BYTES)
    await certs.ensure_ca(svc.store, svc.node)
    text = cc.render(conf)
    await svc.store.write(STORE_PATH, text.encode(), writer=svc.node)
    svc.corosync.write_files(text, authkey)
    tlog.log("starting corosync")
    try:
        await svc.enter_cluster_mode(reset=False)
    except Exception:
        await svc.corosync.stop()
        svc.corosync.remove_files()
        await svc.store.delete(STORE_PATH)
        raise
    tlog.log("cluster created; other nodes join with 'pvecm add <this node's address>'")


# --- add a node (existing side) ----------------------------------------------------
async def addnode(svc: Services, name: str, p: dict[str, Any]) -> dict[str, Any]:
    """Add ``name`` to corosync.conf; answer what the joining node needs."""
    old = svc.store.read(STORE_PATH)
    if old is None:
        raise Conflict(NOT_CLUSTERED)
    conf = cc.parse(old.decode())
    apiversion = p.get("apiversion")
    if apiversion is not None and int(apiversion) > JOIN_API_VERSION:
        raise ParamError.one(
            "apiversion",
            f"joining node speaks join API {apiversion}, this node {JOIN_API_VERSION}",
        )
    links = links_from(p)
    if not links and p.get("new_node_ip"):
        links = {0: (str(p["new_node_ip"]), None)}
    if not links:
        raise ParamError.one("link0", "the joining node's link0 address is required")
    warnings: list[str] = []
    existing = conf.node(name)
    if existing is not None:
        if not p.get("force"):
            raise ParamError.one("node", f"node name '{name}' is already in use in the cluster")
        warnings.append(f"replacing the existing entry of node '{name}' (force)")
        conf.remove_node(name)
    nodeid = int(p.get("nodeid") or conf.next_nodeid())
    votes = int(p["votes"]) if p.get("votes") is not None else 1
    try:
        conf.add_node(cc.Node(name, nodeid, votes, {n: a for n, (a, _) in links.items()}))
    except cc.ConfError as err:
        raise ParamError.one("node", err.detail) from err
    if conf.quorum.device is not None and len(conf.nodes) % 2 == 1:
        warnings.append("the cluster now has an odd number of nodes: consider removing the QDevice")
    await write_conf(svc, conf, old)
    return {
        "corosync_authkey": svc.corosync.read_authkey().hex(),
        "corosync_conf": cc.render(conf),
        "warnings": warnings,
    }


async def delnode(svc: Services, name: str) -> None:
    old = svc.store.read(STORE_PATH)
    if old is None:
        raise Conflict(NOT_CLUSTERED)
    if name == svc.node:
        raise ParamError.one("node", "cannot delete the local node: run delnode on another node")
    conf = cc.parse(old.decode())
    if conf.node(name) is None:
        raise ParamError.one("node", f"node '{name}' is not a member of the cluster")
    conf.remove_node(name)
    await write_conf(svc, conf, old)


# --- join (joining side) -----------------------------------------------------------
def check_join(svc: Services, p: dict[str, Any]) -> None:
    _refuse_if_clustered(svc)
    if not p.get("force"):
        _refuse_if_guests(svc)


async def join(svc: Services, p: dict[str, Any], tlog: TaskLog) -> None:
    """Join the cluster of node ``hostname``; see the module docstring of the API."""
    check_join(svc, p)
    client = NodeClient(str(p["hostname"]), str(p["fingerprint"]))
    user = str(p.get("user") or "root@pam")
    tlog.log(f"logging in to {client.host} as {user}")
    await asyncio.to_thread(client.login, user, str(p["password"]))
    version = await asyncio.to_thread(client.call, "GET", "/cluster/config/apiversion")
    if int(version or 0) < JOIN_API_VERSION:
        raise PyxisError(f"{client.host} speaks join API {version}, too old")
    links = {f"link{n}": _link_text(a, pr) for n, (a, pr) in links_from(p).items()}
    if not links:
        links = {"link0": client.local_address}
    tlog.log(f"adding node {svc.node} with {', '.join(f'{k}={v}' for k, v in links.items())}")
    answer = await asyncio.to_thread(
        client.call,
        "POST",
        f"/cluster/config/nodes/{svc.node}",
        {
            **links,
            "nodeid": p.get("nodeid"),
            "votes": p.get("votes"),
            "force": 1 if p.get("force") else None,
            "apiversion": JOIN_API_VERSION,
        },
    )
    for w in answer.get("warnings") or []:
        tlog.warn(str(w))
    text = str(answer["corosync_conf"])
    cc.parse(text)
    svc.corosync.write_files(text, bytes.fromhex(str(answer["corosync_authkey"])))
    tlog.log("starting corosync and taking the cluster's configuration")
    try:
        await svc.enter_cluster_mode(reset=True)
    except Exception:
        tlog.warn("joining failed; corosync stays configured: check corosync.log")
        raise
    await svc.wait_writable(JOIN_SYNC_TIMEOUT)
    tlog.log("issuing this node's certificate from the cluster CA")
    await svc.update_certs()
    tlog.log(f"node {svc.node} joined cluster '{cc.parse(text).totem.cluster_name}'")


def _link_text(addr: str, prio: int | None) -> str:
    return addr if prio is None else f"address={addr},priority={prio}"
