"""The client end of an in-process ASGI websocket request, for console tests.

``WsPeer`` speaks the ASGI websocket interface to ``ApiApp`` directly (httpx's ASGI
transport has no websockets), offering the ``binary`` subprotocol as noVNC and the
xterm.js console do and the ``websocket.http.response`` extension, so that refusals
arrive as HTTP status and JSON body.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from pyxis.server.app import ApiApp


class WsPeer:
    """The client end of one ASGI websocket request to ``app``."""

    def __init__(self, app: ApiApp, path: str, headers: dict[str, str] | None = None) -> None:
        raw, _, query = path.partition("?")
        scope: dict[str, Any] = {
            "type": "websocket",
            "path": raw,
            "raw_path": raw.encode(),
            "query_string": query.encode(),
            "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
            "subprotocols": ["binary"],
            "client": ("127.0.0.1", 40000),
            "extensions": {"websocket.http.response": {}},
        }
        self.to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.to_app.put_nowait({"type": "websocket.connect"})
        self.task = asyncio.ensure_future(app(scope, self.to_app.get, self.from_app.put))

    async def next(self, timeout: float = 5.0) -> dict[str, Any]:
        return await asyncio.wait_for(self.from_app.get(), timeout)

    async def rejected(self) -> tuple[int, dict[str, Any]]:
        """Expect an HTTP error response instead of the handshake: (status, JSON body)."""
        start = await self.next()
        assert start["type"] == "websocket.http.response.start", start
        body = await self.next()
        return start["status"], json.loads(body["body"])

    async def accepted(self) -> None:
        msg = await self.next()
        assert msg == {"type": "websocket.accept", "subprotocol": "binary"}, msg

    def send(self, data: bytes | str) -> None:
        key = "text" if isinstance(data, str) else "bytes"
        self.to_app.put_nowait({"type": "websocket.receive", key: data})

    async def recv(self) -> bytes:
        msg = await self.next()
        assert msg["type"] == "websocket.send", msg
        return bytes(msg["bytes"])

    async def read_until(self, needle: bytes, timeout: float = 5.0) -> bytes:
        got = b""
        async with asyncio.timeout(timeout):
            while needle not in got:
                got += await self.recv()
        return got

    async def disconnect(self) -> None:
        self.to_app.put_nowait({"type": "websocket.disconnect", "code": 1000})
        await asyncio.wait_for(self.task, 5)
