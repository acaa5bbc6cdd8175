"""VM consoles: ``vncproxy``, ``termproxy`` and the ``vncwebsocket`` that serves both.

``vncproxy`` and ``termproxy`` hand out a console ticket (``PVEVNC:...``, bound to the
caller and ``/vms/<vmid>``), a pseudo port naming a console session and the UPID of a
``vncproxy`` task that lives as long as the session.  Upstream starts a short-lived TCP
proxy on that port; here QEMU's VNC server and serial ports are unix sockets, so the
websocket relays to them directly and the port only names the session.
``vncwebsocket`` (``?port=P&vncticket=T``) checks the ticket and upgrades:

- a VNC session relays the RFB stream as binary messages, both ways.  QEMU's VNC socket
  asks for no VNC password (the ticket and ``VM.Console`` guard the websocket), so
  noVNC proceeds with security type None; ``generate-password`` still returns one.
- a serial session speaks upstream termproxy's xterm.js protocol (``termproto``): the
  client sends ``<authid>:<ticket>\\n`` and gets ``OK``, then its ``0:<n>:<data>`` input
  goes to the serial socket and the serial output comes back raw.

The byte relay runs in Python (``guests/console.py`` says why that is acceptable);
sessions, tickets and the login line are shared with every console (``console_ws``).
Without a websocket upgrade, ``vncwebsocket`` only checks the ticket, as upstream.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import string
from typing import TYPE_CHECKING, Any

from pyxis.access.vncticket import verify_vnc_ticket
from pyxis.api.common import BOOL, INT, NODE, STR, VMID, obj, opt, perm
from pyxis.api.console_ws import login, open_session
from pyxis.api.context import Call
from pyxis.errors import PyxisError
from pyxis.guests.console import ConsoleSession, relay, sessions
from pyxis.guests.termproto import TermDecoder
from pyxis.schema.registry import method

if TYPE_CHECKING:
    from pyxis.server.websocket import WebSocket

CONSOLE = perm("/vms/{vmid}", ["VM.Console"])
BASE = {"node": NODE, "vmid": VMID}
SERIALS = ["serial0", "serial1", "serial2", "serial3"]
_SERIAL_RE = re.compile(r"^serial[0-3]\Z")
_PASSWORD_CHARS = string.ascii_letters + string.digits


def _authpath(vmid: int) -> str:
    return f"/vms/{vmid}"


@method(
    "POST",
    "/nodes/{node}/qemu/{vmid}/vncproxy",
    name="vncproxy",
    permissions=CONSOLE,
    protected=True,
    parameters={
        **BASE,
        "websocket": opt(BOOL),
        "generate-password": opt(BOOL, default=0),
    },
    returns={
        "additionalProperties": 0,
        "properties": {
            "cert": STR,
            "password": opt(STR),
            "port": INT,
            "ticket": STR,
            "upid": STR,
            "user": STR,
        },
    },
)
async def vncproxy(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Open a VNC console session: ticket, port and task for ``vncwebsocket``."""
    vmid = int(p["vmid"])
    call.svc.qemu.load(vmid)
    session, ticket = await open_session(call, vmid, "vnc")
    cert = call.svc.store.read(f"nodes/{call.svc.node}/pve-ssl.pem") or b""
    res: dict[str, Any] = {
        "user": call.authid,
        "ticket": ticket,
        "port": session.port,
        "upid": session.upid,
        "cert": cert.decode(),
    }
    if p.get("generate-password"):
        res["password"] = "".join(secrets.choice(_PASSWORD_CHARS) for _ in range(8))
    return res


@method(
    "POST",
    "/nodes/{node}/qemu/{vmid}/termproxy",
    name="termproxy",
    permissions=CONSOLE,
    protected=True,
    parameters={**BASE, "serial": opt(STR, enum=SERIALS)},
    returns={
        "additionalProperties": 0,
        "properties": {"port": INT, "ticket": STR, "upid": STR, "user": STR},
    },
)
async def termproxy(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Open a serial console session (xterm.js protocol over ``vncwebsocket``)."""
    vmid = int(p["vmid"])
    cfg, _ = call.svc.qemu.load(vmid)
    iface = p.get("serial")
    if iface is None:
        vga = cfg.main.get("vga", "").split(",")[0]
        iface = vga if _SERIAL_RE.match(vga) else "serial0"
    session, ticket = await open_session(call, vmid, str(iface))
    return {"user": call.authid, "ticket": ticket, "port": session.port, "upid": session.upid}


@method(
    "GET",
    "/nodes/{node}/qemu/{vmid}/vncwebsocket",
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
async def vncwebsocket(call: Call, p: dict[str, Any]) -> dict[str, Any] | None:
    """Check the console ticket, then relay the console over the upgraded websocket."""
    vmid, port = int(p["vmid"]), int(p["port"])
    verify_vnc_ticket(call.svc.access, str(p["vncticket"]), call.authid, _authpath(vmid))
    call.svc.qemu.load(vmid)
    ws = call.websocket
    if ws is None:
        return {"port": str(port)}
    session = sessions(call.svc).claim(port, vmid, authid=call.authid)
    try:
        if session.kind == "vnc":
            await _serve_vnc(call, ws, session)
        else:
            await _serve_serial(call, ws, session)
    except PyxisError as err:
        session.finish(err.message)
        raise
    finally:
        session.finish()
    return None


async def _connect(path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_unix_connection(path)


async def _serve_vnc(call: Call, ws: WebSocket, session: ConsoleSession) -> None:
    vmid = session.vmid
    if call.svc.qemu.pid(vmid) is None:
        raise PyxisError(f"VM {vmid} not running")
    try:
        reader, writer = await _connect(str(call.svc.qemu.run_paths(vmid).vnc))
    except OSError as err:
        raise PyxisError(f"VM {vmid}: unable to connect to its VNC server: {err}") from err
    await ws.accept()
    await relay(ws, reader, writer, session)


async def _serve_serial(call: Call, ws: WebSocket, session: ConsoleSession) -> None:
    await ws.accept()
    rest = await login(call, ws, session)
    if rest is None:
        return
    await ws.send(b"OK")
    vmid, iface = session.vmid, session.kind
    try:
        cfg, _ = call.svc.qemu.load(vmid)
        if call.svc.qemu.pid(vmid) is None:
            raise PyxisError(f"VM {vmid} not running")
        if cfg.main.get(iface) != "socket":
            raise PyxisError(f"VM {vmid}: {iface} is not configured as a socket")
        index = int(iface[len("serial") :])
        try:
            reader, writer = await _connect(str(call.svc.qemu.run_paths(vmid).serial(index)))
        except OSError as err:
            raise PyxisError(f"VM {vmid}: unable to connect to {iface}: {err}") from err
    except PyxisError as err:
        # as upstream's terminal command would, say why on the terminal itself
        await ws.send(f"{err.message}\r\n".encode())
        raise
    decoder = TermDecoder()
    first = decoder.feed(rest)
    if first:
        writer.write(first)
    await relay(ws, reader, writer, session, decode=decoder.feed)
