"""Everything outside ``/api2``: the web UI's files and file downloads.

The built web UI (``ui/dist``, a Vite build) is served when present; until then ``/``
answers with a small page that says where the API is.  Serving rules:

- Paths resolve inside the UI directory only: ``..`` segments, NUL bytes, dot files
  and anything resolving (symlinks included) outside it are refused with 404.
- Vite's content-hashed files under ``/assets/`` are cached for a year
  (``immutable``); ``index.html`` and other unhashed files are revalidated on every
  use (``no-cache``) by ``ETag``/``Last-Modified`` (``304`` on a match).
- A precompressed sibling (``app.js.br``, ``app.js.gz``) is sent instead of the file
  when the client accepts that encoding (brotli preferred), with ``Vary``.
- Routes of the single-page app (``/#v1:...`` is client-side, but deep links such as
  ``/nodes/pyxis1`` are not) fall back to ``index.html``; a missing file that looks
  like an asset (under ``/assets/`` or with an extension) is a real 404, so a stale
  bundle reference fails loudly rather than as HTML parsed as JavaScript.
- Only GET and HEAD; other methods get 405.

noVNC and xterm.js come from the UI's npm dependencies and are bundled by Vite into
``/assets/``: the daemon serves no separate copies of them.
"""

from __future__ import annotations

import os
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pyxis
from pyxis.services import Services

UI_DIR = Path(__file__).resolve().parents[3] / "ui" / "dist"
CHUNK = 256 * 1024
IMMUTABLE = b"public, max-age=31536000, immutable"
REVALIDATE = b"no-cache"
ASSETS_PREFIX = "assets/"

# explicit types: the platform's mimetypes table varies (no .wasm/.woff2 on some hosts)
MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".wasm": "application/wasm",
    ".txt": "text/plain; charset=utf-8",
}
# encodings with precompressed siblings, in order of preference
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))

_PLACEHOLDER = """<!doctype html><html><head><meta charset="utf-8"><title>Pyxis</title></head>
<body><h1>Pyxis {version}</h1><p>Node <b>{node}</b>. The REST API is at
<code>/api2/json/</code>; its OpenAPI description is at
<a href="/api2/openapi.json">/api2/openapi.json</a>.</p></body></html>
"""


def content_type(path: Path) -> str:
    return MIME_TYPES.get(path.suffix.lower(), "application/octet-stream")


def resolve(ui_dir: Path, urlpath: str) -> Path | None:
    """The file ``urlpath`` (already percent-decoded, as ASGI passes it) names inside
    ``ui_dir``; None when it is not a servable file."""
    rel = urlpath.lstrip("/") or "index.html"
    parts = PurePosixPath(rel).parts
    if "\0" in rel or "\\" in rel or any(p in ("..", ".") or p.startswith(".") for p in parts):
        return None
    base = ui_dir.resolve()
    target = (base / rel).resolve()
    if not target.is_relative_to(base) or not target.is_file():
        return None
    return target


def _looks_like_file(urlpath: str) -> bool:
    rel = urlpath.lstrip("/")
    return rel.startswith(ASSETS_PREFIX) or "." in rel.rsplit("/", 1)[-1]


def accepted_encodings(header: str) -> set[str]:
    """Codings of an ``Accept-Encoding`` header that are not refused with ``q=0``."""
    out: set[str] = set()
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        q = params.strip().removeprefix("q=").strip() if "q=" in params else "1"
        try:
            weight = float(q)
        except ValueError:
            weight = 0.0
        if name and weight > 0:
            out.add(name.strip().lower())
    return out


def _variant(target: Path, accept: set[str]) -> tuple[Path, bytes | None]:
    for coding, suffix in ENCODINGS:
        if coding in accept or (coding == "gzip" and "*" in accept):
            sibling = target.with_name(target.name + suffix)
            if sibling.is_file():
                return sibling, coding.encode()
    return target, None


def _etag(st: os.stat_result, coding: bytes | None) -> bytes:
    tag = f"{st.st_size:x}-{st.st_mtime_ns:x}"
    return f'"{tag}-{coding.decode()}"'.encode() if coding else f'"{tag}"'.encode()


def _not_modified(hdrs: dict[str, str], etag: bytes, mtime: float) -> bool:
    inm = hdrs.get("if-none-match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or etag.decode() in tags
    ims = hdrs.get("if-modified-since")
    if ims:
        try:
            return int(mtime) <= parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError):
            return False
    return False


async def serve_static(svc: Services, scope: dict[str, Any], send: Any) -> None:
    path: str = scope["path"]
    method = scope.get("method", "GET")
    if method not in ("GET", "HEAD"):
        await _plain(send, 405, b"method not allowed\n", b"text/plain", [(b"allow", b"GET, HEAD")])
        return
    ui_dir = UI_DIR
    if ui_dir.is_dir():
        target = resolve(ui_dir, path)
        if target is None:
            index = resolve(ui_dir, "/index.html")
            if _looks_like_file(path) or index is None:
                await _plain(send, 404, b"not found\n", b"text/plain")
                return
            target = index
        await _serve_ui_file(scope, send, ui_dir, target, head=method == "HEAD")
        return
    if path in ("/", "/index.html"):
        body = _PLACEHOLDER.format(version=pyxis.__version__, node=svc.node).encode()
        await _plain(send, 200, body, b"text/html; charset=utf-8")
        return
    await _plain(send, 404, b"not found\n", b"text/plain")


async def _serve_ui_file(
    scope: dict[str, Any], send: Any, ui_dir: Path, target: Path, *, head: bool
) -> None:
    hdrs = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    rel = target.relative_to(ui_dir.resolve()).as_posix()
    hashed = rel.startswith(ASSETS_PREFIX)
    variant, coding = _variant(target, accepted_encodings(hdrs.get("accept-encoding", "")))
    st = variant.stat()
    etag = _etag(st, coding)
    headers = [
        (b"cache-control", IMMUTABLE if hashed else REVALIDATE),
        (b"etag", etag),
        (b"last-modified", formatdate(st.st_mtime, usegmt=True).encode()),
        (b"vary", b"Accept-Encoding"),
        (b"x-content-type-options", b"nosniff"),
    ]
    if coding:
        headers.append((b"content-encoding", coding))
    if _not_modified(hdrs, etag, st.st_mtime):
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    await send_file(send, variant, content_type(target), headers=headers, head=head)


async def _plain(
    send: Any,
    status: int,
    body: bytes,
    ctype: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body})


async def send_file(
    send: Any,
    path: Path,
    ctype: str,
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
    head: bool = False,
) -> None:
    """Stream a file in chunks (no whole-file reads into memory); headers only for HEAD."""
    size = os.stat(path).st_size
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", ctype.encode()),
                (b"content-length", str(size).encode()),
                *(headers or []),
            ],
        }
    )
    if head:
        await send({"type": "http.response.body", "body": b""})
        return
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(CHUNK)
            more = len(chunk) == CHUNK
            await send({"type": "http.response.body", "body": chunk, "more_body": more})
            if not more:
                break
