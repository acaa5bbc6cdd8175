"""``/nodes`` and per-node status, version and time."""

from __future__ import annotations

import os
import time
from typing import Any

from pyxis.api.common import (
    ALL_USERS,
    INT,
    NODE,
    NUM,
    STR,
    array_of,
    dir_index,
    obj,
    opt,
    perm,
    subdirs,
)
from pyxis.api.context import Call
from pyxis.api.version import version_info
from pyxis.cluster import resources
from pyxis.host import sysinfo
from pyxis.metrics import host
from pyxis.schema.registry import method

NODE_ITEM = obj(
    node={"type": "string", "format": "pve-node"},
    status={"type": "string", "enum": ["unknown", "online", "offline"]},
    cpu=opt(NUM),
    maxcpu=opt(INT),
    mem=opt(INT),
    maxmem=opt(INT),
    uptime=opt(INT),
    level=opt(STR),
    ssl_fingerprint=opt(STR),
)


@method("GET", "/nodes", name="index", permissions=ALL_USERS, returns=array_of(NODE_ITEM))
async def list_nodes(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Cluster nodes with their status."""
    out = []
    for res in resources.node_entries(call.svc):
        item: dict[str, Any] = {
            k: res[k]
            for k in ("node", "status", "cpu", "maxcpu", "mem", "maxmem", "uptime", "level")
            if k in res
        }
        item["id"] = res["id"]
        item["type"] = "node"
        if "ssl_fingerprint" in res:
            item["ssl_fingerprint"] = res["ssl_fingerprint"]
        if call.svc.access.check(call.authid, f"/nodes/{res['node']}", ["Sys.Audit"]):
            out.append(item)
        else:
            out.append(
                {"node": item["node"], "status": item["status"], "id": item["id"], "type": "node"}
            )
    return out


@method(
    "GET",
    "/nodes/{node}",
    name="index",
    permissions=ALL_USERS,
    parameters={"node": NODE},
    returns=dir_index(),
)
async def node_index(call: Call, p: dict[str, Any]) -> list[dict[str, str]]:
    """Directory index of a node."""
    return subdirs(
        "dns",
        "hosts",
        "journal",
        "netstat",
        "status",
        "storage",
        "syslog",
        "tasks",
        "termproxy",
        "time",
        "version",
        "vncwebsocket",
    )


STATUS_RETURNS = {
    "type": "object",
    "additionalProperties": 1,
    "properties": {
        "cpu": NUM,
        "loadavg": array_of(STR),
        "uptime": INT,
        "memory": obj(total=INT, used=INT, free=INT, available=INT),
        "swap": obj(total=INT, used=INT, free=INT),
        "rootfs": obj(total=INT, used=INT, free=INT, avail=INT),
        "cpuinfo": obj(model=STR, cpus=INT, sockets=INT, cores=INT),
        "current-kernel": obj(sysname=STR, release=STR, version=STR, machine=STR),
        "pveversion": STR,
        "kversion": STR,
    },
}


@method(
    "GET",
    "/nodes/{node}/status",
    name="status",
    permissions=perm("/nodes/{node}", ["Sys.Audit"]),
    proxyto="node",
    parameters={"node": NODE},
    returns=STATUS_RETURNS,
)
async def node_status(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """CPU, memory, swap, root filesystem, load and kernel of the node."""
    mem = host.meminfo()
    un = os.uname()
    rootfs = host.fs_usage(str(call.svc.paths.root))
    return {
        "cpu": host.cpu_usage(),
        "wait": sysinfo.io_wait(),
        "loadavg": host.loadavg(),
        "uptime": host.uptime(),
        "idle": 0,
        "memory": {k: mem[k] for k in ("total", "used", "free", "available")},
        "swap": {"total": mem["swap_total"], "used": mem["swap_used"], "free": mem["swap_free"]},
        "rootfs": rootfs,
        "ksm": {"shared": sysinfo.ksm_shared()},
        "cpuinfo": {**host.cpuinfo(), **sysinfo.cpu_extras()},
        "current-kernel": {
            "sysname": un.sysname,
            "release": un.release,
            "version": un.version,
            "machine": un.machine,
        },
        "kversion": f"{un.sysname} {un.release} {un.version}",
        "pveversion": f"pyxis/{version_info()['version']}",
        "boot-info": sysinfo.boot_info(),
    }


@method(
    "GET",
    "/nodes/{node}/version",
    name="version",
    permissions=ALL_USERS,
    proxyto="node",
    parameters={"node": NODE},
    returns=obj(release=STR, repoid=STR, version=STR),
)
async def node_version(call: Call, p: dict[str, Any]) -> dict[str, str]:
    """Version of the node's API server."""
    return version_info()


@method(
    "GET",
    "/nodes/{node}/time",
    name="time",
    permissions=perm("/nodes/{node}", ["Sys.Audit"]),
    proxyto="node",
    parameters={"node": NODE},
    returns={
        "type": "object",
        "additionalProperties": 0,
        "properties": {
            "localtime": {"type": "integer", "minimum": 1297163644},
            "time": {"type": "integer", "minimum": 1297163644},
            "timezone": STR,
        },
    },
)
async def node_time(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Server time and time zone."""
    now = int(time.time())
    tm = time.localtime(now)
    return {"time": now, "localtime": now + tm.tm_gmtoff, "timezone": _timezone()}


def _timezone() -> str:
    try:
        with open("/etc/timezone") as fh:
            return fh.read().strip() or "UTC"
    except OSError:
        link = os.path.realpath("/etc/localtime")
        return link.split("zoneinfo/", 1)[1] if "zoneinfo/" in link else "UTC"
