"""Cluster-wide resource lists: this node's live data merged with the other nodes'.

Local data comes from the node's own (2 s cached) collectors in ``Services``; remote
data from the status bus.  The guest list itself is the store's ``.vmlist`` (replicated,
so complete on every node); only the live fields of a remote guest come from its
owner's report.  A guest whose node is offline, or whose node has not reported it yet,
shows status ``unknown``; an offline node shows status ``offline``; an offline node's
storages keep their identity with status ``unknown``.  In standalone mode these are
exactly the local lists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyxis.services import Services

# Fields of a guest entry that come from the store (the owner's report cannot change them)
_GUEST_IDENTITY = ("id", "type", "vmid", "node")
_NODE_FIELDS = ("id", "type", "node", "level")
_STORAGE_IDENTITY = ("id", "type", "storage", "node", "plugintype", "content", "shared")


def node_entries(svc: Services) -> list[dict[str, Any]]:
    """One entry per configured node, local first-hand, remote from their reports."""
    view = svc.cluster
    local = svc.node_resources()
    if not view.clustered:
        return local
    out: list[dict[str, Any]] = []
    for n in view.nodes():
        if n.name == svc.node:
            out.extend(local)
            continue
        entry: dict[str, Any] = {"id": f"node/{n.name}", "type": "node", "node": n.name}
        if view.is_online(n.name):
            rep = view.bus.live(n.name)
            if rep is not None:
                entry.update(rep.status)
                entry.update(id=f"node/{n.name}", type="node", node=n.name)
            entry["status"] = "online"
        else:
            last = view.bus.last(n.name)
            if last is not None:
                entry.update(
                    {k: last.status[k] for k in ("maxcpu", "maxmem", "maxdisk") if k in last.status}
                )
            entry["status"] = "offline"
        entry.setdefault("level", "")
        out.append(entry)
    return out


def guest_entries(svc: Services) -> list[dict[str, Any]]:
    """Every guest of the cluster with its live status where its owner reported one."""
    guests = svc.guest_resources()
    view = svc.cluster
    if not view.clustered:
        return guests
    out = []
    for res in guests:
        owner = res.get("node")
        if owner == svc.node:
            out.append(res)
            continue
        rep = view.bus.live(str(owner))
        entry = dict(res)
        if rep is not None and res["vmid"] in rep.guests:
            entry.update(rep.guests[res["vmid"]])
            entry.update({k: res[k] for k in _GUEST_IDENTITY})
        else:
            entry["status"] = "unknown"
        out.append(entry)
    return out


async def storage_entries(svc: Services) -> list[dict[str, Any]]:
    """Every node's storages: local live, remote from reports (``unknown`` if offline)."""
    local = await svc.storage_resources()
    view = svc.cluster
    if not view.clustered:
        return local
    out = list(local)
    for n in view.nodes():
        if n.name == svc.node:
            continue
        rep = view.bus.live(n.name)
        if rep is not None:
            out.extend(dict(s, node=n.name) for s in rep.storages)
            continue
        last = view.bus.last(n.name)
        if last is not None:
            for s in last.storages:
                entry = {k: s[k] for k in _STORAGE_IDENTITY if k in s}
                entry.update(node=n.name, status="unknown")
                out.append(entry)
    return out
