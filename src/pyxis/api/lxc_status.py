"""``/nodes/{node}/lxc/{vmid}/status``: current status and power actions; ``rrddata``.

Every action runs as a task and answers with its UPID, as upstream.  Suspend and
resume freeze and thaw the container's cgroup (``lxc-freeze``/``lxc-unfreeze``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pyxis.api.common import BOOL, INT, NODE, NUM, STR, VMID, array_of, obj, opt, perm, subdirs
from pyxis.api.context import Call
from pyxis.api.rrd import CF, ROWS, TIMEFRAMES, _render
from pyxis.errors import Conflict, PermissionDenied
from pyxis.guests.lxc import lifecycle
from pyxis.guests.lxc.service import LxcService
from pyxis.schema.registry import method
from pyxis.tasks.manager import TaskLog

POWER = perm("/vms/{vmid}", ["VM.PowerMgmt"])
AUDIT = perm("/vms/{vmid}", ["VM.Audit"])
BASE = {"node": NODE, "vmid": VMID}
CURRENT = obj(
    vmid=VMID,
    status={"type": "string", "enum": ["stopped", "running"]},
    name=opt(STR),
    type=opt(STR),
    cpu=opt(NUM),
    cpus=opt(NUM),
    mem=opt(INT),
    maxmem=opt(INT),
    swap=opt(INT),
    maxswap=opt(INT),
    disk=opt(INT, minimum=0),
    maxdisk=opt(INT),
    uptime=opt(INT),
    pid=opt(INT),
    diskread=opt(INT),
    diskwrite=opt(INT),
    netin=opt(INT),
    netout=opt(INT),
    ha={"type": "object"},
    lock=opt(STR),
    tags=opt(STR),
    template=opt(BOOL),
)


def _unlocked(call: Call, vmid: int, skiplock: bool = False) -> LxcService:
    if skiplock and not call.is_root:
        raise PermissionDenied("only root@pam may use 'skiplock'")
    lxc = call.svc.lxc
    cfg, _ = lxc.load(vmid)
    lxc.check_not_locked(cfg, skiplock)
    return lxc


async def _task(call: Call, kind: str, vmid: int, fn: Callable[[TaskLog], Awaitable[None]]) -> str:
    return await call.svc.tasks.start(kind, str(vmid), call.authid, fn)


@method(
    "GET",
    "/nodes/{node}/lxc/{vmid}/status",
    name="vmcmdidx",
    permissions=AUDIT,
    proxyto="node",
    parameters=BASE,
    returns=array_of(obj(subdir=STR)),
)
async def status_index(call: Call, p: dict[str, Any]) -> list[dict[str, str]]:
    """Directory index of the status commands."""
    call.svc.lxc.path(int(p["vmid"]))
    return subdirs("current", "start", "stop", "shutdown", "reboot", "suspend", "resume")


@method(
    "GET",
    "/nodes/{node}/lxc/{vmid}/status/current",
    name="vm_status",
    permissions=AUDIT,
    protected=True,
    proxyto="node",
    parameters=BASE,
    returns=CURRENT,
)
async def status_current(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Running state, CPU, memory, swap, disk and network counters."""
    return await call.svc.lxc.current_status(int(p["vmid"]))


@method(
    "POST",
    "/nodes/{node}/lxc/{vmid}/status/start",
    name="vm_start",
    permissions=POWER,
    protected=True,
    proxyto="node",
    parameters={**BASE, "skiplock": opt(BOOL), "debug": opt(BOOL, default=0)},
    returns=STR,
)
async def ct_start(call: Call, p: dict[str, Any]) -> str:
    """Start the container (pending changes are applied first)."""
    vmid = int(p["vmid"])
    lxc = _unlocked(call, vmid, bool(p.get("skiplock")))
    if lxc.fast_info(vmid).state != "STOPPED":
        raise Conflict(f"CT {vmid} already running")

    async def work(tlog: TaskLog) -> None:
        async with lxc.guests.lock(vmid):
            await lifecycle.start(lxc, vmid, tlog)

    return await _task(call, "vzstart", vmid, work)


@method(
    "POST",
    "/nodes/{node}/lxc/{vmid}/status/stop",
    name="vm_stop",
    permissions=POWER,
    protected=True,
    proxyto="node",
    parameters={**BASE, "skiplock": opt(BOOL), "overrule-shutdown": opt(BOOL, default=0)},
    returns=STR,
)
async def ct_stop(call: Call, p: dict[str, Any]) -> str:
    """Stop the container at once (its processes are killed)."""
    vmid = int(p["vmid"])
    lxc = _unlocked(call, vmid, bool(p.get("skiplock")))

    async def work(tlog: TaskLog) -> None:
        async with lxc.guests.lock(vmid):
            await lifecycle.stop(lxc, vmid, tlog)

    return await _task(call, "vzstop", vmid, work)


@method(
    "POST",
    "/nodes/{node}/lxc/{vmid}/status/shutdown",
    name="vm_shutdown",
    permissions=POWER,
    protected=True,
    proxyto="node",
    parameters={
        **BASE,
        "timeout": opt(INT, minimum=0, default=60),
        "forceStop": opt(BOOL, default=0),
    },
    returns=STR,
)
async def ct_shutdown(call: Call, p: dict[str, Any]) -> str:
    """Ask the container's init to power off; ``forceStop`` kills it after the timeout."""
    vmid = int(p["vmid"])
    lxc = _unlocked(call, vmid)
    timeout, force = float(p.get("timeout", 60)), bool(p.get("forceStop"))

    async def work(tlog: TaskLog) -> None:
        async with lxc.guests.lock(vmid):
            await lifecycle.shutdown(lxc, vmid, tlog, timeout, force)

    return await _task(call, "vzshutdown", vmid, work)


@method(
    "POST",
    "/nodes/{node}/lxc/{vmid}/status/reboot",
    name="vm_reboot",
    permissions=POWER,
    protected=True,
    proxyto="node",
    parameters={**BASE, "timeout": opt(INT, minimum=0)},
    returns=STR,
)
async def ct_reboot(call: Call, p: dict[str, Any]) -> str:
    """Shut the container down and start it again (applying pending changes)."""
    vmid = int(p["vmid"])
    lxc = _unlocked(call, vmid)
    if lxc.fast_info(vmid).state == "STOPPED":
        raise Conflict(f"CT {vmid} not running")
    timeout = float(p.get("timeout", 60))

    async def work(tlog: TaskLog) -> None:
        async with lxc.guests.lock(vmid):
            await lifecycle.shutdown(lxc, vmid, tlog, timeout, force=True)
            await lifecycle.start(lxc, vmid, tlog)

    return await _task(call, "vzreboot", vmid, work)


def _freeze(action: str, task: str, doc: str) -> None:
    async def handler(call: Call, p: dict[str, Any]) -> str:
        vmid = int(p["vmid"])
        lxc = _unlocked(call, vmid)
        if lxc.fast_info(vmid).state == "STOPPED":
            raise Conflict(f"CT {vmid} not running")

        async def work(tlog: TaskLog) -> None:
            async with lxc.guests.lock(vmid):
                if action == "suspend":
                    await lifecycle.suspend(lxc, vmid)
                else:
                    await lifecycle.resume(lxc, vmid)
            tlog.log(f"CT {vmid}: {action} done")

        return await _task(call, task, vmid, work)

    handler.__doc__ = doc
    method(
        "POST",
        f"/nodes/{{node}}/lxc/{{vmid}}/status/{action}",
        name=f"vm_{action}",
        permissions=POWER,
        protected=True,
        proxyto="node",
        parameters=BASE,
        returns=STR,
    )(handler)


_freeze("suspend", "vzsuspend", "Freeze every process of the container.")
_freeze("resume", "vzresume", "Thaw a suspended container.")


@method(
    "GET",
    "/nodes/{node}/lxc/{vmid}/rrddata",
    name="rrddata",
    permissions=AUDIT,
    protected=True,
    parameters={**BASE, "timeframe": {"type": "string", "enum": TIMEFRAMES}, "cf": CF},
    returns=ROWS,
)
async def ct_rrddata(call: Call, p: dict[str, Any]) -> Any:
    """Read container RRD statistics (cpu, memory, disk and network rates)."""
    if p["node"] != call.svc.node:
        return await call.svc.proxy(call, p)
    call.svc.lxc.path(int(p["vmid"]))
    rows = call.svc.metrics.fetch("lxc", p["vmid"], p["timeframe"], p.get("cf") or "AVERAGE")
    return _render(rows)
