"""``GET /cluster/tasks``: recent and running tasks of every node, newest first.

Each node contributes its running tasks and its ``RECENT_PER_NODE`` newest finished
ones (upstream's nodes broadcast a similar short list).  ``merge_task_lists`` takes
those lists per node name, drops duplicates by UPID and sorts them.  The lists are
this node's (``local_task_list``) and, in a cluster, the lists the other nodes publish
in their status-bus reports (``pyxis.cluster.statusbus``).  Callers see the
tasks of their user (its API tokens' included) plus all tasks of nodes where they hold
``Sys.Audit``; a token's task names the user in ``user`` and the token in ``tokenid``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pyxis.api.common import ALL_USERS, INT, STR, array_of, obj, opt
from pyxis.api.context import Call
from pyxis.schema.registry import method

if TYPE_CHECKING:
    from pyxis.services import Services

TaskInfo = Mapping[str, Any]
RECENT_PER_NODE = 50

TASK = obj(
    upid=STR,
    node=STR,
    pid=INT,
    pstart=INT,
    starttime=INT,
    type=STR,
    id=STR,
    user=STR,
    tokenid=opt(STR),
    status=opt(STR),
    endtime=opt(INT),
)


def merge_task_lists(per_node: Mapping[str, Sequence[TaskInfo]]) -> list[dict[str, Any]]:
    """One list from per-node task lists: unique UPIDs, newest start first."""
    seen: dict[str, dict[str, Any]] = {}
    for node, tasks in per_node.items():
        for task in tasks:
            upid = str(task.get("upid", ""))
            if not upid or upid in seen:
                continue
            item = dict(task)
            item.setdefault("node", node)
            seen[upid] = item
    return sorted(seen.values(), key=lambda t: (-int(t.get("starttime", 0)), t["upid"]))


def local_task_list(svc: Services) -> list[dict[str, Any]]:
    """This node's contribution: running tasks and the newest finished ones.

    Also what a node would publish to the others (a ``tasks`` entry of its status-bus
    report) so that they can answer ``/cluster/tasks`` for the whole cluster.
    """
    running, _ = svc.tasks.list(limit=1_000_000, source="active")
    recent, _ = svc.tasks.list(limit=RECENT_PER_NODE, source="archive")
    return [dict(t) for t in (*running, *recent)]


def node_task_lists(call: Call) -> dict[str, list[dict[str, Any]]]:
    """The task lists known here, per node: this node's own plus the newest report of
    every other node (an offline node's last known list: its tasks still happened)."""
    out = {call.svc.node: local_task_list(call.svc)}
    view = call.svc.cluster
    if view.clustered:
        for n in view.nodes():
            rep = view.bus.last(n.name)
            if n.name != call.svc.node and rep is not None:
                out[n.name] = rep.tasks
    return out


def _visible(call: Call, task: Mapping[str, Any], audit: dict[str, bool]) -> bool:
    owner = str(task.get("user", "")).split("!", 1)[0]
    if owner == call.user:
        return True
    node = str(task.get("node", ""))
    if node not in audit:
        audit[node] = call.svc.access.check(call.authid, f"/nodes/{node}", ["Sys.Audit"])
    return audit[node]


def _split_token(task: dict[str, Any]) -> dict[str, Any]:
    user = str(task.get("user", ""))
    if "!" in user:
        task["user"], _, token = user.partition("!")
        task["tokenid"] = token
    return task


@method("GET", "/cluster/tasks", name="tasks", permissions=ALL_USERS, returns=array_of(TASK))
async def cluster_tasks(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Recent tasks of all cluster nodes (those the caller may see)."""
    audit: dict[str, bool] = {}
    merged = merge_task_lists(node_task_lists(call))
    return [_split_token(t) for t in merged if _visible(call, t, audit)]
