"""The ASGI application: authentication, routing, validation, permission checks, envelopes.

Every request to ``/api2/<format>/<path>`` is routed through the method registry.  The
order is fixed: authenticate -> route -> parse and validate parameters -> check the
declared permission -> forward (``proxyto``) or run the handler -> wrap the result in
the ``{"data": ...}`` envelope; every POST, PUT and DELETE is then recorded in the
audit log (``pyxis.access.audit``).  Errors carry their HTTP status, with the message as
the reason phrase and in the body (``errors`` per parameter on 400), as upstream.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from functools import lru_cache
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import unquote

import pyxis.api.all  # noqa: F401 - registers every API method
from pyxis.access import audit
from pyxis.api.context import Call, Download, Listing
from pyxis.cluster.proxy import Request as ProxyRequest
from pyxis.errors import AuthError, NotImplementedErr, PermissionDenied, PyxisError
from pyxis.schema.registry import REGISTRY, Method
from pyxis.schema.validate import validate_params
from pyxis.server import hits
from pyxis.server import params as reqparams
from pyxis.server.reason import REASON, sanitize
from pyxis.services import Services

log = logging.getLogger("pyxis.api")
Scope = dict[str, Any]
JSON_TYPE = b"application/json;charset=UTF-8"
FORMATS = ("json", "extjs")
AUDITED = frozenset({"POST", "PUT", "DELETE"})
# the same compact encoding as json.dumps(separators=(",", ":")), without a new encoder
# object per response
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode
# like upstream's extract_auth_value: the first PVEAuthCookie=... up to the next ';'
_TICKET_COOKIE_RE = re.compile(r"(?:^|[\s;])PVEAuthCookie=([^;]*)")


class ApiApp:
    """ASGI app for one node; ``local=True`` marks the root-only unix socket."""

    def __init__(self, svc: Services, *, local: bool = False) -> None:
        self.svc = svc
        self.local = local

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] == "websocket":
            from pyxis.server.websocket import serve_websocket

            await serve_websocket(self, scope, receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path.startswith("/api2/"):
            await self._api(scope, receive, send)
        else:
            from pyxis.server.static import serve_static

            await serve_static(self.svc, scope, send)

    async def _api(self, scope: Scope, receive: Any, send: Any) -> None:
        fmt = "json"
        status, body = 200, b""
        headers: list[tuple[bytes, bytes]] = []
        try:
            raw = scope.get("raw_path") or scope["path"].encode()
            rest = raw.decode("latin-1").split("?", 1)[0][len("/api2/") :]
            if rest == "openapi.json":
                from pyxis.schema.openapi import openapi_document

                await _send(send, 200, json.dumps(openapi_document()).encode(), [], close=False)
                return
            fmt, _, apipath = rest.partition("/")
            if fmt not in FORMATS:
                raise NotImplementedErr(f"unknown format '{fmt}'")
            result, headers = await self._dispatch(scope, receive, send, "/" + apipath)
            if result is _STREAMED:
                return
            body = _envelope(result, fmt)
        except PyxisError as err:
            status, body = _error_response(err, fmt)
            if err.status == 401 and self.svc.settings.auth_fail_delay > 0:
                await asyncio.sleep(self.svc.settings.auth_fail_delay)
        except Exception as err:
            log.exception("internal error in %s %s", scope["method"], scope["path"])
            status, body = _error_response(PyxisError(f"internal error: {err}"), fmt)
        if scope["method"] in AUDITED:
            self._audit(scope, status, body)
        if fmt == "extjs":
            status = 200
        await _send(send, status, body, headers, close=status >= 400, reason=_reason(status, body))

    def _audit(self, scope: Scope, status: int, body: bytes) -> None:
        """Record a state-changing call in the audit log (never fails the request)."""
        try:
            audit.record_request(
                self.svc,
                authid=scope.get("pyxis.authid", ""),
                source=_client(scope),
                method=scope["method"],
                path=scope["path"],
                params=scope.get("pyxis.params", {}),
                status=status,
                message=_reason(status, body) or "OK",
                errors=_param_errors(status, body),
            )
        except OSError:
            log.exception("cannot write the audit log")

    async def _dispatch(
        self, scope: Scope, receive: Any, send: Any, apipath: str
    ) -> tuple[Any, list[tuple[bytes, bytes]]]:
        http = scope["method"]
        if http == "HEAD":
            http = "GET"
        hdrs = _headers(scope)
        m, pathparams = REGISTRY.route(http, apipath)
        pathparams = {k: unquote(v) for k, v in pathparams.items()}
        hits.record(m.http, m.path)
        authid, via = self._authenticate(m, hdrs)
        scope["pyxis.authid"] = authid
        # login and the other no-auth methods do not depend on a cookie: no CSRF token
        world = m.permissions.get("user") == "world"
        if via == "ticket" and http != "GET" and not m.upload and not world:
            token = hdrs.get("csrfpreventiontoken", "")
            if not self.svc.access.verify_csrf(token, authid.split("!")[0]):
                raise AuthError("Permission denied - invalid csrf token")
        if via == "token" and not m.allowtoken:
            raise PermissionDenied("API tokens are not allowed on this endpoint")
        qs = scope.get("query_string", b"")
        query = reqparams.parse_query(qs) if qs else {}
        upload = None
        raw: bytes | None = None
        if m.upload:
            from pyxis.server.upload import receive_upload

            body, upload = await receive_upload(self.svc, scope, receive, pathparams, hdrs)
        elif http in ("POST", "PUT"):
            raw = await _read_body(receive, hdrs)
            body = reqparams.parse_body(hdrs.get("content-type", ""), raw)
        else:
            body = {}
        try:
            scope["pyxis.params"] = merged = reqparams.merge(pathparams, query, body)
            params = validate_params(m.parameters, merged)
            self._check_permission(m, authid, params)
            call = Call(self.svc, authid, m, client=_client(scope), upload=upload)
            # as received, for forwarding to another node (pyxis.cluster.proxy)
            call.extra["request"] = ProxyRequest(http, apipath, qs, raw, hdrs, call.client)
            if m.proxyto and params.get(m.proxyto) not in (None, self.svc.node):
                result = await self.svc.proxy(call, params)
            else:
                result = await m.handler(call, params)
        finally:
            if upload is not None and upload.path.exists():
                upload.path.unlink()
        if isinstance(result, Download):
            from pyxis.server.static import send_file

            await send_file(send, result.path, result.content_type)
            return _STREAMED, []
        return result, []

    def _authenticate(self, m: Method, hdrs: dict[str, str]) -> tuple[str, str]:
        """Return (authid, via) where via is local|ticket|token|anonymous."""
        if self.local:
            return "root@pam", "local"
        auth = hdrs.get("authorization", "")
        if auth.startswith("PVEAPIToken"):
            return self.svc.access.authenticate_token(auth), "token"
        ticket = None
        if auth.startswith("PVEAuthCookie="):
            ticket = unquote(auth[len("PVEAuthCookie=") :])
        elif "cookie" in hdrs:
            ticket = _cookie_ticket(hdrs["cookie"])
        if ticket:
            try:
                return self.svc.access.authenticate_ticket(ticket), "ticket"
            except AuthError:
                if m.permissions.get("user") != "world":
                    raise
        if m.permissions.get("user") == "world":
            return "", "anonymous"
        raise AuthError("No ticket")

    def _check_permission(self, m: Method, authid: str, params: dict[str, Any]) -> None:
        if m.permissions.get("user") == "world":
            return
        if not self.svc.access.evaluate(m.permissions, authid, params):
            raise PermissionDenied(_perm_message(m, params))


@lru_cache(maxsize=256)
def _cookie_ticket(header: str) -> str | None:
    """The unescaped PVEAuthCookie value from a Cookie header, if any.

    A pure function of the header, cached: a client sends the same cookie every time.
    """
    m = _TICKET_COOKIE_RE.search(header)
    if m is None:
        return None
    value = m.group(1).strip()
    if value.startswith('"'):
        # an RFC 2109 quoted value: let the stdlib undo the quoting
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(header)
        except Exception:
            return None
        if "PVEAuthCookie" not in cookie:
            return None
        value = cookie["PVEAuthCookie"].value
    return unquote(value)


class _Streamed:
    pass


_STREAMED = _Streamed()


def _perm_message(m: Method, params: dict[str, Any]) -> str:
    check = m.permissions.get("check")
    if isinstance(check, list) and len(check) >= 3 and check[0] == "perm":
        path = str(check[1])
        for key, val in params.items():
            path = path.replace("{" + key + "}", str(val))
        privs = ", ".join(check[2]) if isinstance(check[2], list) else str(check[2])
        return f"Permission check failed ({path}, {privs})"
    return "Permission check failed"


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in scope.get("headers", []):
        out[k.decode("latin-1").lower()] = v.decode("latin-1")
    return out


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


async def _read_body(receive: Any, hdrs: dict[str, str]) -> bytes:
    declared = hdrs.get("content-length")
    if declared and declared.isdigit() and int(declared) > reqparams.MAX_BODY:
        raise PyxisError("request body too large (limit 512 KiB)", status=400)
    chunks: list[bytes] = []
    size = 0
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            break
        chunk = msg.get("body", b"")
        size += len(chunk)
        if size > reqparams.MAX_BODY:
            raise PyxisError("request body too large (limit 512 KiB)", status=400)
        chunks.append(chunk)
        if not msg.get("more_body"):
            break
    return b"".join(chunks)


def _envelope(result: Any, fmt: str) -> bytes:
    if isinstance(result, Listing):
        doc: dict[str, Any] = {"data": result.data, "total": result.total}
    else:
        doc = {"data": result}
    if fmt == "extjs":
        doc["success"] = 1
    return _ENCODE(doc).encode()


def _error_response(err: PyxisError, fmt: str) -> tuple[int, bytes]:
    doc: dict[str, Any] = {"data": None, "message": err.message}
    errors = getattr(err, "errors", None)
    if errors:
        doc["errors"] = errors
    if fmt == "extjs":
        doc.update(success=0, status=err.status)
    return err.status, _ENCODE(doc).encode()


def _param_errors(status: int, body: bytes) -> dict[str, Any] | None:
    """The per-parameter messages of a 400 answer, for the audit log."""
    if status != 400:
        return None
    try:
        errors = json.loads(body).get("errors")
    except ValueError:
        return None
    return errors if isinstance(errors, dict) else None


def _reason(status: int, body: bytes) -> str | None:
    if status < 400:
        return None
    try:
        return sanitize(json.loads(body).get("message") or "")
    except ValueError:
        return None


async def _send(
    send: Any,
    status: int,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
    *,
    close: bool,
    reason: str | None = None,
) -> None:
    hdrs = [
        (b"content-type", JSON_TYPE),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"max-age=0"),
        *headers,
    ]
    if close:
        hdrs.append((b"connection", b"close"))
    if not reason:
        # REASON is unset here (every set below is reset), so the default phrase applies
        await send({"type": "http.response.start", "status": status, "headers": hdrs})
    else:
        token = REASON.set(reason)
        try:
            await send({"type": "http.response.start", "status": status, "headers": hdrs})
        finally:
            REASON.reset(token)
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        msg = await receive()
        if msg["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif msg["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
