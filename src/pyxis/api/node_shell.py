"""The host shell: ``POST /nodes/{node}/termproxy`` and ``GET /nodes/{node}/vncwebsocket``.

The same session, ticket and xterm.js protocol as a container console
(``api/console_ws.py``), with ``Sys.Console`` on ``/nodes/{node}`` as the guard and a
``vncshell`` task (empty id) per session.  What runs on the pty depends on ``cmd`` and
on who asks, as upstream:

- ``login`` (default): ``root@pam`` gets ``login -f root`` (a root shell without a
  password prompt); every other user, API tokens included, gets ``login``, which asks
  for a local Unix account and its password.  A daemon that does not run as root cannot
  use ``login``; it gives ``root@pam`` its own account's login shell instead.
- ``upgrade``: ``root@pam`` only; runs ``apt-get dist-upgrade`` on the terminal.
- ``ceph_install``: refused (501), Pyxis does not manage Ceph.

The shell is for the node that serves the request; asking another cluster node's path
is answered 501 until consoles are proxied between nodes (open the UI on that node).
"""

from __future__ import annotations

import os
import pwd
from typing import Any

from pyxis.access.vncticket import verify_vnc_ticket
from pyxis.api.common import INT, NODE, STR, obj, opt, perm
from pyxis.api.console_ws import login, open_session, serve_pty
from pyxis.api.context import Call
from pyxis.errors import NotImplementedErr, PermissionDenied, PyxisError
from pyxis.guests.console import sessions
from pyxis.schema.registry import method

PRIVILEGE = "Sys.Console"
CONSOLE = perm("/nodes/{node}", [PRIVILEGE])
COMMANDS = ["ceph_install", "login", "upgrade"]
ROOT = "root@pam"


def shell_argv(authid: str, cmd: str, euid: int | None = None) -> list[str]:
    """The command behind a host shell session of ``cmd`` for ``authid``."""
    euid = os.geteuid() if euid is None else euid
    if cmd == "upgrade":
        return ["apt-get", "dist-upgrade"]
    if authid != ROOT:
        return ["login"]
    if euid == 0:
        return ["login", "-f", "root"]
    return [pwd.getpwuid(euid).pw_shell or "/bin/sh", "-l"]


def _shell_env(cmd: str, euid: int | None = None) -> dict[str, str]:
    """Environment of commands that do not go through ``login`` (which sets its own)."""
    euid = os.geteuid() if euid is None else euid
    entry = pwd.getpwuid(euid)
    env = {"HOME": entry.pw_dir, "USER": entry.pw_name, "LOGNAME": entry.pw_name}
    if cmd == "upgrade":
        env["DEBIAN_FRONTEND"] = "readline"
    return env


def _local_only(call: Call, node: str) -> None:
    if node != call.svc.node:
        raise NotImplementedErr(
            f"host shell of node '{node}' is only available from that node's own API"
        )


@method(
    "POST",
    "/nodes/{node}/termproxy",
    name="termproxy",
    permissions=CONSOLE,
    protected=True,
    parameters={
        "node": NODE,
        "cmd": opt(STR, enum=COMMANDS, default="login"),
        "cmd-opts": opt(STR, default="", requires="cmd"),
    },
    returns={
        "additionalProperties": 0,
        "properties": {"port": INT, "ticket": STR, "upid": STR, "user": STR},
    },
)
async def node_termproxy(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Open a shell session on the node (xterm.js protocol over ``vncwebsocket``)."""
    node = str(p["node"])
    _local_only(call, node)
    cmd = str(p.get("cmd") or "login")
    if cmd == "ceph_install":
        raise NotImplementedErr("Ceph is not managed by Pyxis: no ceph_install")
    if cmd == "upgrade" and call.authid != ROOT:
        raise PermissionDenied(f"Permission check failed ({ROOT} only: upgrade)")
    session, ticket = await open_session(
        call,
        0,
        cmd,
        authpath=f"/nodes/{node}",
        privilege=PRIVILEGE,
        label=f"node {node}",
        task_type="vncshell",
        task_id="",
    )
    return {"user": call.authid, "ticket": ticket, "port": session.port, "upid": session.upid}


@method(
    "GET",
    "/nodes/{node}/vncwebsocket",
    name="vncwebsocket",
    permissions=CONSOLE,
    websocket=True,
    parameters={
        "node": NODE,
        "port": {"type": "integer", "minimum": 5900, "maximum": 5999},
        "vncticket": {"type": "string", "maxLength": 512},
    },
    returns=obj(port=STR),
)
async def node_vncwebsocket(call: Call, p: dict[str, Any]) -> dict[str, Any] | None:
    """Check the console ticket, then relay the host shell over the upgraded websocket."""
    node, port = str(p["node"]), int(p["port"])
    authpath = f"/nodes/{node}"
    verify_vnc_ticket(call.svc.access, str(p["vncticket"]), call.authid, authpath)
    _local_only(call, node)
    ws = call.websocket
    if ws is None:
        return {"port": str(port)}
    session = sessions(call.svc).claim(port, 0, authpath, authid=call.authid)
    try:
        await ws.accept()
        rest = await login(call, ws, session)
        if rest is None:
            return None
        await ws.send(b"OK")
        argv = shell_argv(session.authid, session.kind)
        env = None if argv[0] == "login" else _shell_env(session.kind)
        await serve_pty(ws, session, argv, rest, env)
    except PyxisError as err:
        session.finish(err.message)
        raise
    finally:
        session.finish()
    return None
