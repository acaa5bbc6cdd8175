"""``GET /nodes/{node}/dns``, ``/hosts`` and ``/netstat``: read-only host network facts.

Permissions as upstream: ``Sys.Audit`` on the node for ``dns`` and ``netstat``, on
``/`` for ``hosts``.  Changing DNS or ``/etc/hosts`` through the API is not offered
yet (the host's own tools own those files).  The readers live in ``pyxis.host.netinfo``.
"""

from __future__ import annotations

from typing import Any

from pyxis.api.common import NODE, STR, obj, opt, perm
from pyxis.api.context import Call
from pyxis.host import netinfo
from pyxis.schema.registry import method


@method(
    "GET",
    "/nodes/{node}/dns",
    name="dns",
    permissions=perm("/nodes/{node}", ["Sys.Audit"]),
    proxyto="node",
    parameters={"node": NODE},
    returns={
        "type": "object",
        "additionalProperties": 0,
        "properties": {
            "search": opt(STR),
            "dns1": opt(STR),
            "dns2": opt(STR),
            "dns3": opt(STR),
        },
    },
)
async def node_dns(call: Call, p: dict[str, Any]) -> dict[str, str]:
    """Search domain and name servers of the node's resolver."""
    return netinfo.resolver()


@method(
    "GET",
    "/nodes/{node}/hosts",
    name="get_etc_hosts",
    permissions=perm("/", ["Sys.Audit"]),
    protected=True,
    proxyto="node",
    parameters={"node": NODE},
    returns=obj(data=STR, digest=opt(STR, maxLength=64)),
)
async def node_hosts(call: Call, p: dict[str, Any]) -> dict[str, str]:
    """The node's ``/etc/hosts`` and its digest."""
    return netinfo.hosts_file()


@method(
    "GET",
    "/nodes/{node}/netstat",
    name="netstat",
    permissions=perm("/nodes/{node}", ["Sys.Audit"]),
    proxyto="node",
    parameters={"node": NODE},
    returns={"type": "array", "items": {"type": "object", "properties": {}}},
)
async def node_netstat(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Traffic counters of the guests' network devices on this node."""
    return netinfo.guest_traffic()
