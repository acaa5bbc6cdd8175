"""``/nodes/{node}/qemu/{vmid}/status``: current status and power actions.

Every action runs as a task and answers with its UPID, as upstream.
"""

from __future__ import annotations

from typing import Any

from pyxis.api.common import BOOL, INT, NODE, NUM, STR, VMID, array_of, obj, opt, perm, subdirs
from pyxis.api.context import Call
from pyxis.errors import Conflict, PermissionDenied, PyxisError
from pyxis.schema.registry import method
from pyxis.tasks.manager import TaskLog

# the machine override of vm_start: a property string, as upstream
MACHINE_TYPE_RE = (
    r"(pc|pc(-i440fx)?-\d+(\.\d+)+(\+pve\d+)?(\.pxe)?|q35"
    r"|pc-q35-\d+(\.\d+)+(\+pve\d+)?(\.pxe)?|virt(?:-\d+(\.\d+)+)?(\+pve\d+)?)"
)
MACHINE = opt(
    STR,
    format={
        "type": {
            "type": "string",
            "default_key": 1,
            "optional": 1,
            "maxLength": 40,
            "pattern": MACHINE_TYPE_RE,
        },
        "aw-bits": opt(NUM, minimum=32, maximum=64),
        "enable-s3": opt(BOOL),
        "enable-s4": opt(BOOL),
        "viommu": opt({"type": "string", "enum": ["intel", "virtio"]}),
    },
)

POWER = perm("/vms/{vmid}", ["VM.PowerMgmt"])
AUDIT = perm("/vms/{vmid}", ["VM.Audit"])
BASE = {"node": NODE, "vmid": VMID}
SKIPLOCK = {"skiplock": opt(BOOL)}
CURRENT = obj(
    vmid=VMID,
    status={"type": "string", "enum": ["stopped", "running"]},
    name=opt(STR),
    qmpstatus=opt(STR),
    cpu=opt(NUM),
    cpus=opt(NUM),
    mem=opt(INT),
    maxmem=opt(INT),
    maxdisk=opt(INT),
    uptime=opt(INT),
    pid=opt(INT),
    diskread=opt(INT),
    diskwrite=opt(INT),
    netin=opt(INT),
    netout=opt(INT),
    agent=opt(BOOL),
    ha={"type": "object"},
    lock=opt(STR),
    tags=opt(STR),
    template=opt(BOOL),
    **{"running-qemu": opt(STR), "running-machine": opt(STR)},
)


def _skiplock(call: Call, p: dict[str, Any]) -> bool:
    if p.get("skiplock") and not call.is_root:
        raise PermissionDenied("only root@pam may use 'skiplock'")
    return bool(p.get("skiplock"))


def _unlocked(call: Call, vmid: int, p: dict[str, Any]) -> None:
    cfg, _ = call.svc.qemu.load(vmid)
    call.svc.qemu.check_not_locked(cfg, _skiplock(call, p))


@method(
    "GET",
    "/nodes/{node}/qemu/{vmid}/status",
    name="vmcmdidx",
    permissions=AUDIT,
    proxyto="node",
    parameters=BASE,
    returns=array_of(obj(subdir=STR)),
)
async def status_index(call: Call, p: dict[str, Any]) -> list[dict[str, str]]:
    """Directory index of the status commands."""
    call.svc.qemu.path(int(p["vmid"]))
    return subdirs("current", "start", "stop", "reset", "shutdown", "reboot", "suspend", "resume")


@method(
    "GET",
    "/nodes/{node}/qemu/{vmid}/status/current",
    name="vm_status",
    permissions=AUDIT,
    protected=True,
    proxyto="node",
    parameters=BASE,
    returns=CURRENT,
)
async def status_current(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Running state, QMP status, CPU, memory and I/O counters."""
    return await call.svc.qemu.current_status(int(p["vmid"]))


@method(
    "POST",
    "/nodes/{node}/qemu/{vmid}/status/start",
    name="vm_start",
    permissions=POWER,
    protected=True,
    proxyto="node",
    parameters={
        **BASE,
        **SKIPLOCK,
        "timeout": opt(INT, minimum=0, default="max(30, vm memory in GiB)"),
        "stateuri": opt(STR, maxLength=128),
        "migratedfrom": opt(NODE),
        "machine": MACHINE,
        "force-cpu": opt(STR),
    },
    returns=STR,
)
async def vm_start(call: Call, p: dict[str, Any]) -> str:
    """Start the VM (pending changes are applied first)."""
    vmid = int(p["vmid"])
    qemu = call.svc.qemu
    _unlocked(call, vmid, p)
    overrides = {"machine", "force-cpu", "stateuri", "migratedfrom"} & set(p)
    if overrides and not call.is_root:
        raise PermissionDenied("only root@pam may override machine, CPU or state")
    if qemu.pid(vmid) is not None:
        raise Conflict(f"VM {vmid} already running")

    async def work(tlog: TaskLog) -> None:
        async with qemu.guests.lock(vmid):
            await qemu._start(vmid, tlog)

    return await call.svc.tasks.start("qmstart", str(vmid), call.authid, work)


@method(
    "POST",
    "/nodes/{node}/qemu/{vmid}/status/stop",
    name="vm_stop",
    permissions=POWER,
    protected=True,
    proxyto="node",
    parameters={
        **BASE,
        **SKIPLOCK,
        "timeout": opt(INT, minimum=0),
        "keepActive": opt(BOOL, default=0),
        "migratedfrom": opt(NODE),
        "overrule-shutdown": opt(BOOL, default=0),
    },
    returns=STR,
)
async def vm_stop(call: Call, p: dict[str, Any]) -> str:
    """Stop the VM immediately (like pulling the plug)."""
    vmid = int(p["vmid"])
    qemu = call.svc.qemu
    _unlocked(call, vmid, p)
    timeout = float(p.get("timeout", 10))

    async def work(tlog: TaskLog) -> None:
        await qemu.stop_vm(vmid, tlog, timeout)

    return await call.svc.tasks.start("qmstop", str(vmid), call.authid, work)


@method(
    "POST",
    "/nodes/{node}/qemu/{vmid}/status/shutdown",
    name="vm_shutdown",
    permissions=POWER,
    protected=True,
    proxyto="node",
    parameters={
        **BASE,
        **SKIPLOCK,
        "timeout": opt(INT, minimum=0),
        "forceStop": opt(BOOL, default=0),
        "keepActive": opt(BOOL, default=0),
    },
    returns=STR,
)
async def vm_shutdown(call: Call, p: dict[str, Any]) -> str:
    """ACPI power-off; ``forceStop`` stops the VM if it does not comply in time."""
    vmid = int(p["vmid"])
    qemu = call.svc.qemu
    _unlocked(call, vmid, p)
    timeout = float(p.get("timeout", 180))
    force = bool(p.get("forceStop"))

    async def work(tlog: TaskLog) -> None:
        await qemu.shutdown_vm(vmid, tlog, timeout, force)

    return await call.svc.tasks.start("qmshutdown", str(vmid), call.authid, work)


@method(
    "POST",
    "/nodes/{node}/qemu/{vmid}/status/reboot",
    name="vm_reboot",
    permissions=POWER,
    protected=True,
    proxyto="node",
    parameters={**BASE, "timeout": opt(INT, minimum=0)},
    returns=STR,
)
async def vm_reboot(call: Call, p: dict[str, Any]) -> str:
    """Shut the VM down cleanly and start it again (applying pending changes)."""
    vmid = int(p["vmid"])
    qemu = call.svc.qemu
    _unlocked(call, vmid, p)
    if qemu.pid(vmid) is None:
        raise Conflict(f"VM {vmid} not running")
    timeout = float(p.get("timeout", 180))

    async def work(tlog: TaskLog) -> None:
        async with qemu.guests.lock(vmid):
            await qemu.shutdown_vm(vmid, tlog, timeout, force=False)
            await qemu._start(vmid, tlog)

    return await call.svc.tasks.start("qmreboot", str(vmid), call.authid, work)


def _simple(action: str, name: str, task: str, doc: str, extra: dict[str, Any]) -> None:
    async def handler(call: Call, p: dict[str, Any]) -> str:
        vmid = int(p["vmid"])
        qemu = call.svc.qemu
        _unlocked(call, vmid, p)
        if qemu.pid(vmid) is None:
            raise Conflict(f"VM {vmid} not running")
        if p.get("todisk"):
            raise PyxisError("suspend to disk (hibernation) is not supported yet", status=501)

        async def work(tlog: TaskLog) -> None:
            await qemu.monitor_cmd(vmid, action)
            tlog.log(f"VM {vmid}: {action} done")

        return await call.svc.tasks.start(task, str(vmid), call.authid, work)

    handler.__doc__ = doc
    method(
        "POST",
        f"/nodes/{{node}}/qemu/{{vmid}}/status/{action}",
        name=name,
        permissions=POWER,
        protected=True,
        proxyto="node",
        parameters={**BASE, **SKIPLOCK, **extra},
        returns=STR,
    )(handler)


_simple("reset", "vm_reset", "qmreset", "Hard reset of the VM.", {})
_simple(
    "suspend",
    "vm_suspend",
    "qmsuspend",
    "Pause the VM's CPUs (suspend to RAM).",
    {
        "todisk": opt(BOOL, default=0),
        "statestorage": opt(STR, format="pve-storage-id", requires="todisk"),
    },
)
_simple("resume", "vm_resume", "qmresume", "Resume a paused VM.", {"nocheck": opt(BOOL)})
