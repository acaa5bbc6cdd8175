"""Websocket upgrades of ``/api2/<format>/<path>``: the same checks as HTTP, then a relay.

A websocket request runs the HTTP pipeline up to the handler: authenticate (ticket
cookie or ``PVEAPIToken`` header; console websockets may instead present their
``vncticket``, which the console session behind ``port`` can vouch for) -> route a GET
to a method declared ``websocket=True`` -> validate parameters -> check the declared
permission -> run the handler with ``call.websocket``.  The handler accepts the
connection (echoing the ``binary`` subprotocol noVNC asks for) and owns it until it
returns; the connection is closed afterwards.  Errors before the handshake completes
are answered as ordinary HTTP error responses (status and JSON body, as for HTTP
requests) through the ASGI ``websocket.http.response`` extension, or as a plain refusal
when the server lacks it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from pyxis.errors import AuthError, NotImplementedErr, PermissionDenied, PyxisError
from pyxis.schema.registry import REGISTRY
from pyxis.schema.validate import validate_params
from pyxis.server import hits
from pyxis.server import params as reqparams

if TYPE_CHECKING:
    from pyxis.server.app import ApiApp

log = logging.getLogger("pyxis.api")
Scope = dict[str, Any]
# what noVNC and the xterm.js console ask for; frames are sent as binary either way
SUBPROTOCOL = "binary"


class WebSocketClosed(Exception):
    """The peer went away (or the connection was closed) while sending."""


class WebSocket:
    """Server side of one ASGI websocket: ``connecting`` -> ``open`` -> ``closed``.

    ``receive`` returns each message as bytes (text messages UTF-8 encoded) and None
    once the peer has closed; ``send`` sends one binary message.
    """

    def __init__(self, scope: Scope, receive: Any, send: Any) -> None:
        self.scope = scope
        self._receive = receive
        self._send = send
        self.state = "connecting"
        self.subprotocols: list[str] = list(scope.get("subprotocols") or [])

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol to accept: ``binary`` when the client offers it."""
        return SUBPROTOCOL if SUBPROTOCOL in self.subprotocols else None

    async def accept(self) -> None:
        if self.state != "connecting":
            raise WebSocketClosed("websocket is not connecting")
        msg: dict[str, Any] = {"type": "websocket.accept"}
        if self.subprotocol:
            msg["subprotocol"] = self.subprotocol
        await self._send(msg)
        self.state = "open"

    async def receive(self) -> bytes | None:
        """The next message, or None when the peer closed the connection."""
        while self.state == "open":
            msg = await self._receive()
            kind = msg["type"]
            if kind == "websocket.receive":
                data = msg.get("bytes")
                if data is None:
                    data = (msg.get("text") or "").encode()
                return bytes(data)
            if kind == "websocket.disconnect":
                self.state = "closed"
        return None

    async def send(self, data: bytes) -> None:
        if self.state != "open":
            raise WebSocketClosed("websocket is closed")
        try:
            await self._send({"type": "websocket.send", "bytes": data})
        except OSError as err:  # uvicorn's ClientDisconnected
            self.state = "closed"
            raise WebSocketClosed("peer disconnected") from err

    async def close(self, code: int = 1000) -> None:
        """Close an open connection (a no-op once closed)."""
        if self.state != "open":
            return
        self.state = "closed"
        with contextlib.suppress(OSError, RuntimeError):  # the peer is already gone
            await self._send({"type": "websocket.close", "code": code})

    async def reject(self, err: PyxisError) -> None:
        """Refuse the handshake with an HTTP error response carrying ``err``."""
        if self.state != "connecting":
            return
        self.state = "closed"
        doc: dict[str, Any] = {"data": None, "message": err.message}
        errors = getattr(err, "errors", None)
        if errors:
            doc["errors"] = errors
        body = json.dumps(doc, separators=(",", ":")).encode()
        try:
            if "websocket.http.response" in (self.scope.get("extensions") or {}):
                headers = [
                    (b"content-type", b"application/json;charset=UTF-8"),
                    (b"content-length", str(len(body)).encode()),
                ]
                await self._send(
                    {"type": "websocket.http.response.start", "status": err.status,
                     "headers": headers}
                )  # fmt: skip
                await self._send({"type": "websocket.http.response.body", "body": body})
            else:
                await self._send({"type": "websocket.close", "code": 1008})
        except (OSError, RuntimeError):
            pass


async def serve_websocket(app: ApiApp, scope: Scope, receive: Any, send: Any) -> None:
    """Run one websocket request of ``app`` from handshake to close."""
    msg = await receive()
    if msg["type"] != "websocket.connect":
        return
    ws = WebSocket(scope, receive, send)
    try:
        await _dispatch(app, ws, scope)
    except PyxisError as err:
        if ws.state == "connecting":
            if err.status == 401 and app.svc.settings.auth_fail_delay > 0:
                await asyncio.sleep(app.svc.settings.auth_fail_delay)
            await ws.reject(err)
        else:
            log.info("websocket %s ended: %s", scope.get("path"), err.message)
    except WebSocketClosed:
        pass
    except Exception as err:
        log.exception("internal error in websocket %s", scope.get("path"))
        await ws.reject(PyxisError(f"internal error: {err}"))
    finally:
        if ws.state == "connecting":
            await ws.reject(PyxisError("websocket handler did not accept the connection"))
        await ws.close()


async def _dispatch(app: ApiApp, ws: WebSocket, scope: Scope) -> None:
    from pyxis.api.context import Call

    raw = scope.get("raw_path") or scope["path"].encode()
    rest = raw.decode("latin-1").split("?", 1)[0]
    if not rest.startswith("/api2/"):
        raise NotImplementedErr("no such uri")
    fmt, _, apipath = rest[len("/api2/") :].partition("/")
    if fmt not in ("json", "extjs"):
        raise NotImplementedErr(f"unknown format '{fmt}'")
    m, pathparams = REGISTRY.route("GET", "/" + apipath)
    if not m.websocket:
        raise PyxisError(f"no websocket on '{m.path}'", status=400)
    pathparams = {k: unquote(v) for k, v in pathparams.items()}
    hits.record(m.http, m.path)
    hdrs = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    qs = scope.get("query_string", b"")
    query = reqparams.parse_query(qs) if qs else {}
    try:
        authid, via = app._authenticate(m, hdrs)
    except AuthError:
        authid = _ticket_authid(app, query)
        via = "vncticket"
    if via == "token" and not m.allowtoken:
        raise PermissionDenied("API tokens are not allowed on this endpoint")
    params = validate_params(m.parameters, reqparams.merge(pathparams, query, {}))
    app._check_permission(m, authid, params)
    if m.proxyto and params.get(m.proxyto) not in (None, app.svc.node):
        from pyxis.cluster.proxy import not_forwarded

        target = str(params[m.proxyto])
        if app.svc.cluster.node(target) is None or not app.svc.cluster.clustered:
            raise PyxisError(f"no such cluster node '{target}'", status=595)
        raise not_forwarded(target, "websocket connections")
    client = scope.get("client")
    call = Call(app.svc, authid, m, client=str(client[0]) if client else None, websocket=ws)
    await m.handler(call, params)


def _ticket_authid(app: ApiApp, query: dict[str, Any]) -> str:
    """Authenticate by a console ticket alone: its session knows whom it was made for."""
    from pyxis.access.vncticket import verify_vnc_ticket
    from pyxis.guests.console import sessions

    ticket, port = query.get("vncticket"), query.get("port")
    if not isinstance(ticket, str) or not isinstance(port, str) or not port.isdigit():
        raise AuthError("No ticket")
    session = sessions(app.svc).get(int(port))
    if session is None:
        raise AuthError("No ticket")
    verify_vnc_ticket(app.svc.access, ticket, session.authid, session.authpath)
    return session.authid
