"""Container consoles (``termproxy`` + ``vncwebsocket``) and the ``exec`` extension.

``termproxy`` hands out a console ticket, a pseudo port naming a session and the UPID
of the session's task, exactly as for VMs (``api/qemu_console.py``).  ``vncwebsocket``
speaks upstream termproxy's xterm.js protocol and relays to ``lxc-console`` (``cmode``
``tty``/``console``) or a login shell through ``lxc-attach`` (``cmode=shell``) running
on a pty (``guests/lxc/console.py``).

``POST /nodes/{node}/lxc/{vmid}/exec`` is a Pyxis extension (upstream has none; users
script ``pct exec`` over SSH instead).  It runs ``command`` (an argv array, no shell)
inside the running container through ``lxc-attach --clear-env``, feeds ``input`` to its
stdin and answers ``{exitcode, stdout, stderr}`` (each stream cut at 1 MiB) once it
ends or ``timeout`` seconds passed.  It needs ``VM.Console`` on ``/vms/{vmid}``: the
same privilege as an interactive console, which already allows running anything as
the container's root.
"""

from __future__ import annotations

from typing import Any

from pyxis.access.vncticket import verify_vnc_ticket
from pyxis.api.common import INT, NODE, STR, VMID, obj, opt, perm
from pyxis.api.console_ws import login, open_session, serve_pty
from pyxis.api.context import Call
from pyxis.errors import Conflict, PyxisError
from pyxis.guests.console import sessions
from pyxis.guests.lxc import console as ct_console
from pyxis.guests.lxc import lifecycle
from pyxis.schema.registry import method

CONSOLE = perm("/vms/{vmid}", ["VM.Console"])
BASE = {"node": NODE, "vmid": VMID}
EXEC_TIMEOUT = 30
EXEC_TIMEOUT_MAX = 3600


@method(
    "POST",
    "/nodes/{node}/lxc/{vmid}/termproxy",
    name="termproxy",
    permissions=CONSOLE,
    protected=True,
    parameters=BASE,
    returns={
        "additionalProperties": 0,
        "properties": {"port": INT, "ticket": STR, "upid": STR, "user": STR},
    },
)
async def ct_termproxy(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Open a terminal session on the container (xterm.js protocol over ``vncwebsocket``)."""
    vmid = int(p["vmid"])
    call.svc.lxc.load(vmid)
    session, ticket = await open_session(call, vmid, "lxc")
    return {"user": call.authid, "ticket": ticket, "port": session.port, "upid": session.upid}


@method(
    "GET",
    "/nodes/{node}/lxc/{vmid}/vncwebsocket",
    name="vncwebsocket",
    permissions=CONSOLE,
    websocket=True,
    parameters={
        **BASE,
        "port": {"type": "integer", "minimum": 5900, "maximum": 5999},
        "vncticket": {"type": "string", "maxLength": 512},
    },
    returns=obj(port=STR),
)
async def ct_vncwebsocket(call: Call, p: dict[str, Any]) -> dict[str, Any] | None:
    """Check the console ticket, then relay the container terminal over the websocket."""
    vmid, port = int(p["vmid"]), int(p["port"])
    verify_vnc_ticket(call.svc.access, str(p["vncticket"]), call.authid, f"/vms/{vmid}")
    cfg, _ = call.svc.lxc.load(vmid)
    ws = call.websocket
    if ws is None:
        return {"port": str(port)}
    session = sessions(call.svc).claim(port, vmid, authid=call.authid)
    try:
        await ws.accept()
        rest = await login(call, ws, session)
        if rest is None:
            return None
        await ws.send(b"OK")
        lxc = call.svc.lxc
        if lxc.fast_info(vmid).state == "STOPPED":
            await ws.send(f"CT {vmid} not running\r\n".encode())
            raise PyxisError(f"CT {vmid} not running")
        cmode = cfg.main.get("cmode", "tty")
        argv = ct_console.console_argv(lxc.lxcpath, vmid, cmode)
        await serve_pty(ws, session, argv, rest)
    except PyxisError as err:
        session.finish(err.message)
        raise
    finally:
        session.finish()
    return None


@method(
    "POST",
    "/nodes/{node}/lxc/{vmid}/exec",
    name="exec",
    permissions=CONSOLE,
    protected=True,
    proxyto="node",
    extension=True,
    parameters={
        **BASE,
        "command": {"type": "array", "items": {"type": "string"}},
        "input": opt(STR, maxLength=1048576),
        "timeout": opt(INT, minimum=1, maximum=EXEC_TIMEOUT_MAX, default=EXEC_TIMEOUT),
    },
    returns=obj(exitcode=INT, stdout=STR, stderr=STR),
)
async def ct_exec(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Run a command in the running container; its exit code, stdout and stderr."""
    vmid = int(p["vmid"])
    command = p["command"]
    if isinstance(command, str):
        command = [command]
    lxc = call.svc.lxc
    cfg, _ = lxc.load(vmid)
    if cfg.main.get("lock"):
        raise Conflict(f"CT is locked ({cfg.main['lock']})")
    stdin = str(p["input"]).encode() if "input" in p else b""
    res = await lifecycle.exec_command(
        lxc, vmid, [str(c) for c in command], stdin, float(p.get("timeout", EXEC_TIMEOUT))
    )
    return {"exitcode": res.returncode, "stdout": res.stdout, "stderr": res.stderr}
