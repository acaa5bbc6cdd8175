"""Serving the built web UI: caching, precompressed files, types, SPA fallback, traversal."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import pytest

from pyxis.server import static

INDEX = b"<!doctype html><title>Pyxis</title><div id=root></div>"
APP_JS = b"console.log('pyxis');\n" * 50


@pytest.fixture
def dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_bytes(INDEX)
    (root / "assets" / "index-4f2a9c1b.js").write_bytes(APP_JS)
    (root / "assets" / "index-4f2a9c1b.js.gz").write_bytes(gzip.compress(APP_JS))
    (root / "assets" / "index-4f2a9c1b.js.br").write_bytes(b"fake-brotli")
    for name in ("app-1.css", "logo-2.svg", "font-3.woff2", "mod-4.wasm"):
        (root / "assets" / name).write_bytes(b"x")
    (root / "favicon.ico").write_bytes(b"ico")
    (root / ".env").write_bytes(b"SECRET=1")
    (tmp_path / "outside.txt").write_bytes(b"secret")
    (root / "assets" / "link.js").symlink_to(tmp_path / "outside.txt")
    monkeypatch.setattr(static, "UI_DIR", root)
    return root


async def test_index_is_revalidated(api: httpx.AsyncClient, dist: Path) -> None:
    r = await api.get("/")
    assert r.status_code == 200 and r.content == INDEX
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["x-content-type-options"] == "nosniff"
    etag = r.headers["etag"]
    r = await api.get("/index.html", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b""
    r = await api.get("/", headers={"If-Modified-Since": r.headers["last-modified"]})
    assert r.status_code == 304


async def test_hashed_assets_are_immutable(api: httpx.AsyncClient, dist: Path) -> None:
    r = await api.get("/assets/index-4f2a9c1b.js", headers={"Accept-Encoding": "identity"})
    assert r.status_code == 200 and r.content == APP_JS
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "content-encoding" not in r.headers
    assert r.headers["vary"] == "Accept-Encoding"


@pytest.mark.parametrize(
    ("accept", "coding"),
    [("gzip, deflate", "gzip"), ("br, gzip", "br"), ("gzip;q=1, br;q=0", "gzip"), ("", None)],
)
async def test_precompressed_variants(
    api: httpx.AsyncClient, dist: Path, accept: str, coding: str | None
) -> None:
    r = await api.get("/assets/index-4f2a9c1b.js", headers={"Accept-Encoding": accept})
    assert r.status_code == 200
    assert r.headers.get("content-encoding") == coding
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    if coding == "gzip":
        assert r.content == APP_JS  # httpx decoded it


@pytest.mark.parametrize(
    ("path", "ctype"),
    [
        ("/assets/app-1.css", "text/css; charset=utf-8"),
        ("/assets/logo-2.svg", "image/svg+xml"),
        ("/assets/font-3.woff2", "font/woff2"),
        ("/assets/mod-4.wasm", "application/wasm"),
        ("/favicon.ico", "image/x-icon"),
    ],
)
async def test_mime_types(api: httpx.AsyncClient, dist: Path, path: str, ctype: str) -> None:
    r = await api.get(path)
    assert r.status_code == 200 and r.headers["content-type"] == ctype


@pytest.mark.parametrize("path", ["/datacenter", "/nodes/pyxis1/syslog", "/vms/100/console"])
async def test_spa_routes_fall_back_to_index(api: httpx.AsyncClient, dist: Path, path: str) -> None:
    r = await api.get(path)
    assert r.status_code == 200 and r.content == INDEX
    assert r.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "path",
    [
        "/assets/missing-123.js",
        "/missing.png",
        "/../outside.txt",
        "/assets/../../outside.txt",
        "/%2e%2e/outside.txt",
        "/assets/%2e%2e/%2e%2e/outside.txt",
        "/assets/link.js",
        "/.env",
        "/assets/..%2f..%2foutside.txt",
    ],
)
async def test_missing_files_and_traversal_are_404(
    api: httpx.AsyncClient, dist: Path, path: str
) -> None:
    r = await api.get(path)
    assert r.status_code == 404, (path, r.status_code, r.content[:40])
    assert b"secret" not in r.content and b"SECRET" not in r.content


@pytest.mark.parametrize(
    "urlpath", ["../outside.txt", "assets/../../outside.txt", "a\0b", ".env", "assets\\x"]
)
def test_resolve_refuses(dist: Path, urlpath: str) -> None:
    assert static.resolve(dist, urlpath) is None


async def test_head_and_methods(api: httpx.AsyncClient, dist: Path) -> None:
    r = await api.head("/assets/app-1.css")
    assert r.status_code == 200 and r.content == b"" and r.headers["content-length"] == "1"
    r = await api.post("/index.html")
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"


async def test_placeholder_without_a_build(
    api: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(static, "UI_DIR", tmp_path / "nothing")
    r = await api.get("/")
    assert r.status_code == 200 and b"/api2/json/" in r.content
    assert (await api.get("/other")).status_code == 404
