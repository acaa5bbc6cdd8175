"""What every console endpoint shares: opening a session, the login line, a pty relay.

VM, container and host consoles all work alike: ``termproxy``/``vncproxy`` open a
session (``pyxis.guests.console``) with a ``vncproxy``/``vncshell`` task and a console
ticket bound to the caller and the session's ACL path; ``vncwebsocket`` claims the
session, and for terminals reads the xterm.js protocol's login line (``termproto``),
re-checks ticket and privilege for the user named there, answers ``OK`` and relays.
``serve_pty`` is the relay for consoles backed by a command on a pseudo terminal
(container consoles and the host shell); it also applies the client's resizes.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from pyxis.access.vncticket import create_vnc_ticket, verify_vnc_ticket
from pyxis.api.context import Call
from pyxis.errors import AuthError, PyxisError
from pyxis.guests.console import ConsoleSession, relay, sessions
from pyxis.guests.termproto import MAX_LOGIN_LINE, ProtocolError, TermDecoder, split_login
from pyxis.util import pty

if TYPE_CHECKING:
    from pyxis.server.websocket import WebSocket

LOGIN_TIMEOUT = 30.0


async def open_session(
    call: Call,
    vmid: int,
    kind: str,
    *,
    authpath: str = "",
    privilege: str = "VM.Console",
    label: str = "",
    task_type: str = "vncproxy",
    task_id: str | None = None,
) -> tuple[ConsoleSession, str]:
    """A session with its task and a ticket for the caller.

    Guest consoles pass only ``vmid`` and ``kind``; the host shell names its node path,
    privilege and task (``vncshell`` with an empty id, as upstream).
    """
    table = sessions(call.svc)
    session = table.open(
        vmid, kind, call.authid, authpath=authpath, privilege=privilege, label=label
    )
    ticket = create_vnc_ticket(call.svc.access, call.authid, session.authpath)
    try:
        session.upid = await call.svc.tasks.start(
            task_type,
            str(vmid) if task_id is None else task_id,
            call.authid,
            lambda tlog: table.run(session, tlog),
        )
    except BaseException:
        table.close(session)
        raise
    return session, ticket


async def login(call: Call, ws: WebSocket, session: ConsoleSession) -> bytes | None:
    """Read and check the ``<authid>:<ticket>\\n`` line; the bytes after it, or None.

    On a bad line, a wrong ticket or a missing privilege the session ends with the
    reason and the websocket is closed (policy violation).
    """
    buf = b""
    try:
        async with asyncio.timeout(LOGIN_TIMEOUT):
            while b"\n" not in buf:
                data = await ws.receive()
                if data is None:
                    return None
                buf += data
                if len(buf) > MAX_LOGIN_LINE:
                    raise ProtocolError("login line too long")
        line, _, rest = buf.partition(b"\n")
        authid, ticket = split_login(line)
        if authid != session.authid:
            raise AuthError("console session belongs to another user")
        verify_vnc_ticket(call.svc.access, ticket, authid, session.authpath)
        if not call.svc.access.check(authid, session.authpath, [session.privilege]):
            raise AuthError("permission denied")
    except (TimeoutError, ProtocolError, AuthError) as err:
        session.finish(f"console login failed: {err}")
        await ws.close(1008)
        return None
    return rest


async def serve_pty(
    ws: WebSocket,
    session: ConsoleSession,
    argv: list[str],
    first: bytes = b"",
    env: dict[str, str] | None = None,
) -> None:
    """Run ``argv`` on a pty and relay it over ``ws`` (xterm.js protocol) until either ends.

    ``first`` is what the client sent right after its login line.
    """
    try:
        term = await pty.spawn(argv, env)
    except OSError as err:
        raise PyxisError(f"unable to start {argv[0]}: {err}") from err
    decoder = TermDecoder()
    size: tuple[int, int] | None = None

    def decode(data: bytes) -> bytes:
        nonlocal size
        out = decoder.feed(data)
        if decoder.size is not None and decoder.size != size:
            size = decoder.size
            term.resize(*size)
        return out

    try:
        if data := decode(first):
            term.writer.write(data)
            await term.writer.drain()
        await relay(ws, term.reader, term.writer, session, decode=decode)
    finally:
        await term.close()
