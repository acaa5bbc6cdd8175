"""Custom HTTP reason phrases on uvicorn's httptools protocol.

Upstream puts the error message into the status line (``HTTP/1.1 400 Parameter
verification failed.``) and clients such as proxmoxer show it.  ASGI has no field for
that, so the app sets a context variable before sending the response start and a
status-line table installed into uvicorn's httptools protocol reads it.  ``send`` runs in
the app's task, so the context variable is the request's own.
"""

from __future__ import annotations

import contextvars
import http
from typing import Any

REASON: contextvars.ContextVar[str | None] = contextvars.ContextVar("pyxis_reason", default=None)


def sanitize(message: str) -> str:
    """First line only, printable latin-1, bounded length: safe inside a status line."""
    line = message.strip().splitlines()[0] if message.strip() else ""
    line = "".join(c if 32 <= ord(c) < 127 else "?" for c in line)
    return line[:200]


class _StatusLines(dict[int, bytes]):
    def __getitem__(self, code: int) -> bytes:
        phrase = REASON.get()
        if phrase:
            return b"HTTP/1.1 %d %s\r\n" % (code, phrase.encode("latin-1"))
        return super().__getitem__(code)


def _default_line(code: int) -> bytes:
    try:
        phrase = http.HTTPStatus(code).phrase
    except ValueError:
        phrase = ""
    return b"HTTP/1.1 %d %s\r\n" % (code, phrase.encode())


def install() -> None:
    """Patch uvicorn's httptools status-line table once (idempotent)."""
    from uvicorn.protocols.http import httptools_impl

    table: Any = httptools_impl.STATUS_LINE
    if isinstance(table, _StatusLines):
        return
    lines = _StatusLines({c: _default_line(c) for c in range(100, 600)})
    httptools_impl.STATUS_LINE = lines  # type: ignore[misc]
