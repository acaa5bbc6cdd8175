"""Console sessions of one node and the byte relay between a websocket and a console.

``vncproxy``/``termproxy`` open a session: a pseudo port (5900-5999, the range the
``vncwebsocket`` schema allows, standing in for upstream's short-lived proxy listener)
naming the guest (or, for the host shell, the node), the console kind, the user it was
made for and the ACL path plus privilege its ticket and login are checked against.
A ``vncproxy`` task lives as long as the session: it fails when nobody connects within
``CONNECT_TIMEOUT`` seconds and ends when the websocket session ends; stopping the
task ends the session.  Each session accepts one connection.

The relay copies bytes between the websocket and the guest's unix socket (QEMU's VNC
server or a serial port) in Python: an exception to keeping bytes out of Python loops,
accepted because console traffic is interactive and low-bandwidth (a VNC framebuffer
update of a few hundred KiB at most per frame) and a websocket has to be framed by
someone anyway.  Either side closing ends both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pyxis.errors import PyxisError

if TYPE_CHECKING:
    from pyxis.server.websocket import WebSocket
    from pyxis.services import Services
    from pyxis.tasks.manager import TaskLog

log = logging.getLogger("pyxis.console")
PORT_BASE = 5900
PORT_LAST = 5999
CONNECT_TIMEOUT = 10.0
CHUNK = 64 * 1024


@dataclass
class ConsoleSession:
    """One handed-out console: ``kind`` is ``vnc``, a serial port name (``serial0``),
    ``lxc`` or ``shell`` (the host).  ``authpath``/``privilege`` default to the guest's
    ``/vms/<vmid>`` and ``VM.Console``; the host shell uses vmid 0 and its node path."""

    port: int
    vmid: int
    kind: str
    authid: str
    authpath: str = ""
    privilege: str = "VM.Console"
    label: str = ""
    upid: str = ""
    claimed: bool = False
    error: str | None = None
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.authpath = self.authpath or f"/vms/{self.vmid}"
        self.label = self.label or f"VM {self.vmid}"

    def finish(self, error: str | None = None) -> None:
        """End the session (the first error reported wins)."""
        if error and self.error is None:
            self.error = error
        self.ended.set()


class ConsoleSessions:
    """The live sessions of one node, by port."""

    def __init__(self, connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.connect_timeout = connect_timeout
        self._by_port: dict[int, ConsoleSession] = {}

    def open(
        self,
        vmid: int,
        kind: str,
        authid: str,
        *,
        authpath: str = "",
        privilege: str = "VM.Console",
        label: str = "",
    ) -> ConsoleSession:
        for port in range(PORT_BASE, PORT_LAST + 1):
            if port not in self._by_port:
                session = ConsoleSession(
                    port, vmid, kind, authid, authpath, privilege=privilege, label=label
                )
                self._by_port[port] = session
                return session
        raise PyxisError("unable to find free console port (too many open consoles)")

    def get(self, port: int) -> ConsoleSession | None:
        return self._by_port.get(port)

    def claim(self, port: int, vmid: int, authpath: str = "", *, authid: str) -> ConsoleSession:
        """The session on ``port`` for its one connection; 400 if there is none.

        The session must be the one of guest ``vmid`` (or, for vmid 0, of ``authpath``)
        and must have been opened by ``authid``: a console ticket proves who connects,
        not whose session it is, and root's host shell must not be taken by another user.
        """
        session = self._by_port.get(port)
        path = authpath or f"/vms/{vmid}"
        if (
            session is None
            or session.vmid != vmid
            or session.authpath != path
            or session.authid != authid
            or session.ended.is_set()
        ):
            what = f"VM {vmid}" if vmid else path
            raise PyxisError(f"no console session of {what} on port {port}", status=400)
        if session.claimed:
            raise PyxisError(f"console session on port {port} is already connected", status=400)
        session.claimed = True
        session.connected.set()
        return session

    def close(self, session: ConsoleSession) -> None:
        session.finish()
        if self._by_port.get(session.port) is session:
            del self._by_port[session.port]

    async def run(self, session: ConsoleSession, tlog: TaskLog) -> None:
        """Body of the session's task: wait for the connection, then for its end."""
        try:
            try:
                await asyncio.wait_for(session.connected.wait(), self.connect_timeout)
            except TimeoutError:
                raise PyxisError("connection timed out") from None
            tlog.log(f"connected to {session.kind} of {session.label}")
            await session.ended.wait()
            if session.error:
                raise PyxisError(session.error)
        finally:
            self.close(session)


_SESSIONS: weakref.WeakKeyDictionary[Services, ConsoleSessions] = weakref.WeakKeyDictionary()


def sessions(svc: Services) -> ConsoleSessions:
    """The console sessions of the node ``svc`` serves (made on first use)."""
    found = _SESSIONS.get(svc)
    if found is None:
        found = _SESSIONS[svc] = ConsoleSessions()
    return found


async def relay(
    ws: WebSocket,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    session: ConsoleSession,
    decode: Callable[[bytes], bytes] | None = None,
) -> None:
    """Copy websocket messages to ``writer`` and ``reader`` bytes to the websocket.

    Returns when the client or the guest closes, or the session is ended from outside
    (its task stopped); both connections are closed then.  ``decode`` turns client
    messages into guest input (the xterm.js protocol); errors it raises end the relay.
    """

    async def to_guest() -> None:
        while (data := await ws.receive()) is not None:
            if decode is not None:
                data = decode(data)
            if data:
                writer.write(data)
                await writer.drain()

    async def to_client() -> None:
        while data := await reader.read(CHUNK):
            await ws.send(data)

    tasks = {
        asyncio.ensure_future(to_guest()),
        asyncio.ensure_future(to_client()),
        asyncio.ensure_future(session.ended.wait()),
    }
    try:
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        await ws.close()
    for task in done:
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.info("console of %s: %s", session.label, exc)
