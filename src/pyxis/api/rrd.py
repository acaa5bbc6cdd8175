"""``rrddata`` of a node, a VM and a storage: the metrics history the GUI graphs.

Each answers the ~70 rows of one timeframe's archive as ``[{time, metric: value}, ...]``
(see ``pyxis.metrics.rrd`` for the layout).  As upstream, a metric that is unknown for a
row is left out of that row's object rather than sent as null.  The history lives on
the node that collected it; for another node's name the request is forwarded.
"""

from __future__ import annotations

from typing import Any

from pyxis.api.common import NODE, STORAGE_ID, VMID, S, array_of, opt, perm
from pyxis.api.context import Call
from pyxis.schema.registry import method

TIMEFRAMES = ["hour", "day", "week", "month", "year"]
CF: S = opt({"type": "string", "enum": ["AVERAGE", "MAX"]})
ROWS: S = array_of({"type": "object", "properties": {}})


def _timeframe(values: list[str]) -> S:
    return {"type": "string", "enum": values}


def _render(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        point: dict[str, Any] = {}
        for key, value in row.items():
            if value is None:
                continue
            point[key] = int(value) if isinstance(value, float) and value.is_integer() else value
        out.append(point)
    return out


async def _rows(call: Call, p: dict[str, Any], kind: str, ident: str | int) -> Any:
    if p["node"] != call.svc.node:
        return await call.svc.proxy(call, p)
    return _render(call.svc.metrics.fetch(kind, ident, p["timeframe"], p.get("cf") or "AVERAGE"))


@method(
    "GET",
    "/nodes/{node}/rrddata",
    name="rrddata",
    permissions=perm("/nodes/{node}", ["Sys.Audit"]),
    protected=True,
    parameters={"node": NODE, "timeframe": _timeframe([*TIMEFRAMES, "decade"]), "cf": CF},
    returns=ROWS,
)
async def node_rrddata(call: Call, p: dict[str, Any]) -> Any:
    """Read node RRD statistics (cpu, iowait, loadavg, memory, swap, rootfs, network)."""
    return await _rows(call, p, "node", p["node"])


@method(
    "GET",
    "/nodes/{node}/qemu/{vmid}/rrddata",
    name="rrddata",
    permissions=perm("/vms/{vmid}", ["VM.Audit"]),
    protected=True,
    parameters={"node": NODE, "vmid": VMID, "timeframe": _timeframe(TIMEFRAMES), "cf": CF},
    returns=ROWS,
)
async def qemu_rrddata(call: Call, p: dict[str, Any]) -> Any:
    """Read VM RRD statistics (cpu, memory, disk and network rates)."""
    if p["node"] == call.svc.node:
        call.svc.qemu.path(p["vmid"])  # 404 for a VM that is not here
    return await _rows(call, p, "qemu", p["vmid"])


@method(
    "GET",
    "/nodes/{node}/storage/{storage}/rrddata",
    name="rrddata",
    permissions=perm(
        "/storage/{storage}", ["Datastore.Audit", "Datastore.AllocateSpace"], any_=True
    ),
    protected=True,
    proxyto="node",
    parameters={
        "node": NODE,
        "storage": STORAGE_ID,
        "timeframe": _timeframe(TIMEFRAMES),
        "cf": CF,
    },
    returns=ROWS,
)
async def storage_rrddata(call: Call, p: dict[str, Any]) -> Any:
    """Read storage RRD statistics (total and used bytes)."""
    call.svc.storage.section(p["storage"])  # 404 for an unknown storage
    return await _rows(call, p, "storage", p["storage"])
