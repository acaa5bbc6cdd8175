"""``/nodes/{node}/qemu/{vmid}/agent``: the QEMU guest agent of a running VM.

One declaration per upstream method; the privileges are upstream's (PVE 9:
``VM.GuestAgent.Audit`` for queries, ``FileSystemMgmt`` for freeze/trim,
``FileRead``/``FileWrite`` for files, ``VM.PowerMgmt`` for shutdown and suspend,
``Unrestricted`` for everything).  Replies keep upstream's shapes: most methods wrap
the agent's answer as ``{"result": ...}``; ``exec``, ``exec-status`` and the file
methods answer with their own objects.
"""

from __future__ import annotations

from typing import Any

from pyxis.api.common import ALL_USERS, BOOL, INT, NODE, STR, VMID, array_of, obj, opt, perm
from pyxis.api.context import Call
from pyxis.guests.qemu import agent_ops
from pyxis.schema.registry import method

BASE = {"node": NODE, "vmid": VMID}
PATH = "/nodes/{node}/qemu/{vmid}/agent"
UNRESTRICTED = "VM.GuestAgent.Unrestricted"
RESULT = {"type": "object"}
COMMANDS = sorted(agent_ops.SIMPLE_COMMANDS)
# per command: HTTP method and the privileges (any of) besides Unrestricted
SIMPLE: dict[str, tuple[str, list[str]]] = {
    **{
        cmd: ("GET", ["VM.GuestAgent.Audit"])
        for cmd in (
            "info",
            "network-get-interfaces",
            "get-osinfo",
            "get-host-name",
            "get-time",
            "get-timezone",
            "get-users",
            "get-vcpus",
            "get-fsinfo",
            "get-memory-blocks",
            "get-memory-block-info",
        )
    },
    "ping": ("POST", ["VM.GuestAgent.Audit"]),
    "fsfreeze-status": ("POST", ["VM.GuestAgent.Audit", "VM.GuestAgent.FileSystemMgmt"]),
    "fsfreeze-freeze": ("POST", ["VM.GuestAgent.FileSystemMgmt"]),
    "fsfreeze-thaw": ("POST", ["VM.GuestAgent.FileSystemMgmt"]),
    "fstrim": ("POST", ["VM.GuestAgent.FileSystemMgmt"]),
    "shutdown": ("POST", ["VM.PowerMgmt"]),
    "suspend-disk": ("POST", ["VM.PowerMgmt"]),
    "suspend-hybrid": ("POST", ["VM.PowerMgmt"]),
    "suspend-ram": ("POST", ["VM.PowerMgmt"]),
}
EXTRA_METHODS = ("exec", "exec-status", "file-read", "file-write", "set-user-password")


def _any_of(*privs: str) -> dict[str, Any]:
    return perm("/vms/{vmid}", [*privs, UNRESTRICTED], any_=True)


@method(
    "GET",
    PATH,
    name="index",
    permissions=ALL_USERS,
    proxyto="node",
    parameters=BASE,
    returns=array_of({"type": "object", "properties": {}}),
)
async def agent_index(call: Call, p: dict[str, Any]) -> list[dict[str, str]]:
    """The guest agent commands this node offers."""
    call.svc.qemu.path(int(p["vmid"]))
    return [{"name": cmd} for cmd in sorted([*SIMPLE, *EXTRA_METHODS])]


@method(
    "POST",
    PATH,
    name="agent",
    permissions=perm("/vms/{vmid}", [UNRESTRICTED, UNRESTRICTED], any_=True),
    protected=True,
    proxyto="node",
    parameters={**BASE, "command": {"type": "string", "enum": COMMANDS}},
    returns=RESULT,
)
async def agent_command(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Run one guest agent command given by name."""
    return await agent_ops.simple(call.svc.qemu, int(p["vmid"]), str(p["command"]))


def _simple(cmd: str, http: str, privs: list[str]) -> None:
    async def handler(call: Call, p: dict[str, Any]) -> dict[str, Any]:
        return await agent_ops.simple(call.svc.qemu, int(p["vmid"]), cmd)

    handler.__doc__ = f"Run the guest agent command '{cmd}'."
    method(
        http,
        f"{PATH}/{cmd}",
        name=cmd,
        permissions=_any_of(*privs),
        protected=True,
        proxyto="node",
        parameters=BASE,
        returns=RESULT,
    )(handler)


for _cmd, (_http, _privs) in SIMPLE.items():
    _simple(_cmd, _http, _privs)


@method(
    "POST",
    f"{PATH}/exec",
    name="exec",
    permissions=perm("/vms/{vmid}", [UNRESTRICTED]),
    protected=True,
    proxyto="node",
    parameters={
        **BASE,
        "command": {"type": "array", "items": {"type": "string"}},
        "input-data": opt(STR, maxLength=65536),
    },
    returns=obj(pid=INT),
)
async def agent_exec(call: Call, p: dict[str, Any]) -> dict[str, int]:
    """Start a command in the guest; poll ``exec-status`` with the returned pid."""
    return await agent_ops.exec_start(
        call.svc.qemu, int(p["vmid"]), p["command"], p.get("input-data")
    )


@method(
    "GET",
    f"{PATH}/exec-status",
    name="exec-status",
    permissions=perm("/vms/{vmid}", [UNRESTRICTED]),
    protected=True,
    proxyto="node",
    parameters={**BASE, "pid": INT},
    returns=obj(
        exited=BOOL,
        exitcode=opt(INT),
        signal=opt(INT),
        **{
            "out-data": opt(STR),
            "err-data": opt(STR),
            "out-truncated": opt(BOOL),
            "err-truncated": opt(BOOL),
        },
    ),
)
async def agent_exec_status(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """State and output of a command started with ``exec``."""
    return await agent_ops.exec_status(call.svc.qemu, int(p["vmid"]), int(p["pid"]))


@method(
    "GET",
    f"{PATH}/file-read",
    name="file-read",
    permissions=_any_of("VM.GuestAgent.FileRead"),
    protected=True,
    proxyto="node",
    parameters={
        **BASE,
        "file": STR,
        "count": opt(INT, minimum=1, maximum=agent_ops.FILE_READ_MAX),
        "offset": opt(INT, minimum=0, default=0),
        "decode": opt(BOOL, default=1),
    },
    returns=obj(content=STR, truncated=opt(BOOL)),
)
async def agent_file_read(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Read a file in the guest (at most 16 MiB per call)."""
    return await agent_ops.file_read(
        call.svc.qemu,
        int(p["vmid"]),
        str(p["file"]),
        offset=int(p.get("offset", 0)),
        count=int(p.get("count", agent_ops.FILE_READ_MAX)),
        decode=bool(p.get("decode", 1)),
    )


@method(
    "POST",
    f"{PATH}/file-write",
    name="file-write",
    permissions=_any_of("VM.GuestAgent.FileWrite"),
    protected=True,
    proxyto="node",
    parameters={
        **BASE,
        "file": STR,
        "content": {"type": "string", "maxLength": 61440},
        "encode": opt(BOOL, default=1),
    },
    returns={"type": "null"},
)
async def agent_file_write(call: Call, p: dict[str, Any]) -> None:
    """Write a file in the guest (``encode=0``: ``content`` is base64 already)."""
    await agent_ops.file_write(
        call.svc.qemu,
        int(p["vmid"]),
        str(p["file"]),
        str(p["content"]),
        bool(p.get("encode", 1)),
    )


@method(
    "POST",
    f"{PATH}/set-user-password",
    name="set-user-password",
    permissions=perm("/vms/{vmid}", [UNRESTRICTED]),
    protected=True,
    proxyto="node",
    parameters={
        **BASE,
        "username": STR,
        "password": {"type": "string", "minLength": 5, "maxLength": 1024},
        "crypted": opt(BOOL, default=0),
    },
    returns=RESULT,
)
async def agent_set_user_password(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Set a guest user's password (``crypted=1``: it is a crypt(3) hash)."""
    return await agent_ops.set_user_password(
        call.svc.qemu,
        int(p["vmid"]),
        str(p["username"]),
        str(p["password"]),
        bool(p.get("crypted", 0)),
    )
