"""``/nodes/{node}/tasks``: list, status, log and stop of worker tasks.

Anyone may see their own tasks; ``Sys.Audit`` on the node shows everyone's and
``Sys.Modify`` allows stopping them, as upstream.
"""

from __future__ import annotations

from typing import Any

from pyxis.api.common import (
    ALL_USERS,
    BOOL,
    INT,
    NODE,
    STR,
    VMID_OPT,
    array_of,
    dir_index,
    obj,
    opt,
)
from pyxis.api.context import Call, Download, Listing
from pyxis.errors import PermissionDenied
from pyxis.schema.registry import method
from pyxis.tasks.upid import UPID

UPID_PARAM = {"type": "string"}

TASK_ITEM = obj(
    upid=STR,
    node=STR,
    pid=INT,
    pstart=INT,
    starttime=INT,
    type=STR,
    id=STR,
    user=STR,
    endtime=opt(INT),
    status=opt(STR),
)


def _may_see(call: Call, upid: UPID, privs: list[str]) -> None:
    owner = upid.user
    if owner == call.authid or owner == call.user:
        return
    if not call.svc.access.check(call.authid, f"/nodes/{call.svc.node}", privs):
        raise PermissionDenied(f"Permission check failed (/nodes/{call.svc.node}, {privs[0]})")


@method(
    "GET",
    "/nodes/{node}/tasks",
    name="node_tasks",
    permissions=ALL_USERS,
    proxyto="node",
    parameters={
        "node": NODE,
        "start": opt(INT, minimum=0, default=0),
        "limit": opt(INT, minimum=0, default=50),
        "vmid": VMID_OPT,
        "typefilter": opt(STR),
        "userfilter": opt(STR),
        "statusfilter": opt(STR, format="pve-task-status-type-list"),
        "errors": opt(BOOL, default=0),
        "since": opt(INT),
        "until": opt(INT),
        "source": opt(
            {"type": "string", "enum": ["archive", "active", "all"], "default": "archive"}
        ),
    },
    returns=array_of(TASK_ITEM),
)
async def list_tasks(call: Call, p: dict[str, Any]) -> Listing:
    """Tasks of this node, newest first."""
    audit = call.svc.access.check(call.authid, f"/nodes/{call.svc.node}", ["Sys.Audit"])
    statusfilter = p.get("statusfilter")
    items, _total = call.svc.tasks.list(
        start=0,
        limit=1_000_000,
        vmid=p.get("vmid"),
        typefilter=p.get("typefilter"),
        userfilter=p.get("userfilter") if audit else (p.get("userfilter") or call.user),
        statusfilter=statusfilter.split(",") if statusfilter else None,
        errors=bool(p.get("errors")),
        since=p.get("since"),
        until=p.get("until"),
        source=p.get("source", "archive"),
    )
    if not audit:
        items = [t for t in items if t["user"] in (call.user, call.authid)]
    start, limit = p.get("start", 0), p.get("limit", 50)
    return Listing(items[start : start + limit], len(items))


@method(
    "GET",
    "/nodes/{node}/tasks/{upid}",
    name="upid_index",
    permissions=ALL_USERS,
    parameters={"node": NODE, "upid": UPID_PARAM},
    returns=dir_index(),
)
async def task_index(call: Call, p: dict[str, Any]) -> list[dict[str, str]]:
    """Directory index of a task."""
    UPID.parse(p["upid"])
    return [{"name": "log"}, {"name": "status"}]


@method(
    "DELETE",
    "/nodes/{node}/tasks/{upid}",
    name="stop_task",
    permissions=ALL_USERS,
    protected=True,
    proxyto="node",
    parameters={"node": NODE, "upid": UPID_PARAM},
)
async def stop_task(call: Call, p: dict[str, Any]) -> None:
    """Stop a running task."""
    upid = UPID.parse(p["upid"])
    _may_see(call, upid, ["Sys.Modify"])
    await call.svc.tasks.stop(p["upid"])


@method(
    "GET",
    "/nodes/{node}/tasks/{upid}/status",
    name="read_task_status",
    permissions=ALL_USERS,
    protected=True,
    proxyto="node",
    parameters={"node": NODE, "upid": UPID_PARAM},
    returns=obj(
        upid=STR,
        node=STR,
        pid=INT,
        pstart=INT,
        starttime=INT,
        type=STR,
        id=STR,
        user=STR,
        status={"type": "string", "enum": ["running", "stopped"]},
        exitstatus=opt(STR),
    ),
)
async def task_status(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Status of one task; ``exitstatus`` once it stopped."""
    upid = UPID.parse(p["upid"])
    _may_see(call, upid, ["Sys.Audit"])
    return call.svc.tasks.status(p["upid"])


@method(
    "GET",
    "/nodes/{node}/tasks/{upid}/log",
    name="read_task_log",
    permissions=ALL_USERS,
    protected=True,
    proxyto="node",
    parameters={
        "node": NODE,
        "upid": UPID_PARAM,
        "start": opt(INT, minimum=0, default=0),
        "limit": opt(INT, minimum=0, default=50),
        "download": opt(BOOL),
    },
    returns=array_of(obj(n=INT, t=STR)),
)
async def task_log(call: Call, p: dict[str, Any]) -> Listing | Download:
    """Lines of a task log (``n`` is 1-based), or the whole file with ``download=1``."""
    upid = UPID.parse(p["upid"])
    _may_see(call, upid, ["Sys.Audit"])
    if p.get("download"):
        return Download(call.svc.tasks.log_file(p["upid"]), "text/plain")
    lines, total = call.svc.tasks.read_log(p["upid"], p.get("start", 0), p.get("limit", 50))
    return Listing(lines, total)
