"""Everything outside ``/api2``: the web UI's files and file downloads.

The built web UI (``ui/dist``) is served when present; until then ``/`` answers with a
small page that says where the API is.  Paths are resolved inside the UI directory
only (no traversal).
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from typing import Any

import pyxis
from pyxis.services import Services

UI_DIR = Path(__file__).resolve().parents[3] / "ui" / "dist"
CHUNK = 256 * 1024

_PLACEHOLDER = """<!doctype html><html><head><meta charset="utf-8"><title>Pyxis</title></head>
<body><h1>Pyxis {version}</h1><p>Node <b>{node}</b>. The REST API is at
<code>/api2/json/</code>; its OpenAPI description is at
<a href="/api2/openapi.json">/api2/openapi.json</a>.</p></body></html>
"""


async def serve_static(svc: Services, scope: dict[str, Any], send: Any) -> None:
    path = scope["path"]
    if UI_DIR.is_dir():
        rel = path.lstrip("/") or "index.html"
        target = (UI_DIR / rel).resolve()
        if not target.is_relative_to(UI_DIR) or not target.is_file():
            target = UI_DIR / "index.html"
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        await send_file(send, target, ctype)
        return
    if path in ("/", "/index.html"):
        body = _PLACEHOLDER.format(version=pyxis.__version__, node=svc.node).encode()
        await _plain(send, 200, body, b"text/html; charset=utf-8")
        return
    await _plain(send, 404, b"not found\n", b"text/plain")


async def _plain(send: Any, status: int, body: bytes, ctype: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_file(send: Any, path: Path, ctype: str) -> None:
    """Stream a file in chunks (no whole-file reads into memory)."""
    size = os.stat(path).st_size
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", ctype.encode()),
                (b"content-length", str(size).encode()),
            ],
        }
    )
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(CHUNK)
            more = len(chunk) == CHUNK
            await send({"type": "http.response.body", "body": chunk, "more_body": more})
            if not more:
                break
