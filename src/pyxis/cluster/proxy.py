"""Forwarding of ``proxyto`` requests to the node they name.

The server has already authenticated the caller, validated the parameters and checked
the permission locally; the :class:`Forwarder` sends the request as received (method,
path, query string, body, content type) to the target's API over HTTPS, with the
caller's credentials unchanged (``PVEAuthCookie`` cookie or header, or the
``PVEAPIToken`` authorization, and the CSRF token), so the target authenticates and
checks permissions again.  A CLI caller on the root-only socket has no credentials to
pass on: the forwarder mints a short ticket for it (any node accepts tickets signed with
the cluster key).  The target's certificate must chain to the cluster CA
(``pve-root-ca.pem`` in the store); the CA signs only cluster nodes, so the host name is
not checked (the target is addressed by IP).  The answer is passed back unchanged:
status, message and per-parameter errors of a failure, ``data`` and ``total`` of a
success, or the file of a download.  A request carries :data:`MARKER` and is never
forwarded a second time.  Connection failures answer 595 (as upstream's proxy), a
stalled answer 596.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyxis.api.context import Download, Listing
from pyxis.errors import ParamError, PyxisError

if TYPE_CHECKING:
    import httpx

    from pyxis.api.context import Call
    from pyxis.cluster.view import ClusterView
    from pyxis.services import Services

CA_PATH = "pve-root-ca.pem"
MARKER = "x-pyxis-proxied-by"
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 120.0
DOWNLOAD_KEEP = 60.0  # seconds a forwarded download's local copy lives (sent by then)
# request headers passed on as received (besides the ones built here)
PASSED_HEADERS = (
    "cookie",
    "authorization",
    "csrfpreventiontoken",
    "content-type",
    "accept-language",
)


@dataclass(frozen=True)
class Request:
    """An API request as it arrived, for forwarding (set by the server on ``Call.extra``)."""

    method: str
    path: str  # below /api2/json, percent-encoded as received
    query: bytes = b""
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    client: str | None = None


def not_forwarded(node: str, what: str) -> PyxisError:
    """The error for requests the proxy does not carry (websockets, uploads)."""
    return PyxisError(
        f"{what} to node '{node}' are not forwarded by this node; "
        f"send the request to node '{node}' directly",
        status=501,
    )


class Forwarder:
    """Sends requests to other nodes; one pooled HTTP client per cluster CA version."""

    def __init__(
        self, svc: Services, view: ClusterView, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.svc = svc
        self.view = view
        self.transport = transport
        self._client: tuple[int, httpx.AsyncClient] | None = None

    async def close(self) -> None:
        if self._client is not None:
            await self._client[1].aclose()
            self._client = None

    def _ssl_context(self, ca_pem: bytes) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=ca_pem.decode())
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    async def client(self) -> httpx.AsyncClient:
        import httpx  # only a node that forwards needs it

        entry = self.svc.store.get(CA_PATH)
        version = entry.version if entry else 0
        if self._client is not None and self._client[0] == version:
            return self._client[1]
        await self.close()
        timeout = httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT)
        if self.transport is not None:
            client = httpx.AsyncClient(transport=self.transport, timeout=timeout)
        elif entry is None:
            raise PyxisError(
                "cannot forward: the cluster CA (pve-root-ca.pem) is missing", status=595
            )
        else:
            client = httpx.AsyncClient(
                verify=self._ssl_context(entry.data), timeout=timeout, trust_env=False
            )
        self._client = (version, client)
        return client

    # -- the request --------------------------------------------------------------------
    def target(self, name: str) -> str:
        """The base URL of node ``name``; 595 at once when it is unknown or offline."""
        node = self.view.node(name)
        if node is None or not self.view.clustered:
            raise PyxisError(f"no such cluster node '{name}'", status=595)
        if not self.view.is_online(name):
            raise PyxisError(
                f"node '{name}' is offline - no route to host (not forwarding)", status=595
            )
        host = f"[{node.ip}]" if ":" in node.ip else node.ip
        return f"https://{host}:{self.view.api_port}"

    def headers(self, call: Call, req: Request) -> dict[str, str]:
        out = {k: v for k, v in req.headers.items() if k in PASSED_HEADERS}
        if "cookie" not in out and "authorization" not in out and call.authid:
            # the root-only unix socket: vouch for the caller with a fresh ticket
            user = call.authid.split("!", 1)[0]
            ticket = self.svc.access.signer().create_ticket(user, int(self.svc.access.clock()))
            out["authorization"] = f"PVEAuthCookie={ticket}"
            out["csrfpreventiontoken"] = self.svc.access.make_csrf(user)
        out[MARKER] = self.svc.node
        fwd = [v for v in (req.headers.get("x-forwarded-for"), req.client) if v]
        if fwd:
            out["x-forwarded-for"] = ", ".join(fwd)
        return out

    async def forward(self, call: Call, params: dict[str, Any]) -> Any:
        key = call.method.proxyto or "node"
        name = str(params.get(key))
        req = call.extra.get("request")
        if not isinstance(req, Request):
            raise PyxisError(f"cannot forward this call to node '{name}'", status=595)
        if MARKER in req.headers:
            raise PyxisError(
                f"proxy loop: request for node '{name}' was already forwarded by "
                f"'{req.headers[MARKER]}'",
                status=595,
            )
        if call.method.upload or call.upload is not None:
            raise not_forwarded(name, "uploads")
        url = self.target(name) + "/api2/json" + req.path
        if req.query:
            url += "?" + req.query.decode("latin-1")
        client = await self.client()
        import httpx

        try:
            resp = await client.request(
                req.method, url, headers=self.headers(call, req), content=req.body or None
            )
        except httpx.TimeoutException as err:
            status = 595 if isinstance(err, httpx.ConnectTimeout) else 596
            raise PyxisError(
                f"proxy to node '{name}': connection timed out", status=status
            ) from err
        except httpx.TransportError as err:
            raise PyxisError(f"proxy to node '{name}' failed: {_reason(err)}", status=595) from err
        ctype = resp.headers.get("content-type", "")
        if resp.status_code < 400 and not ctype.startswith("application/json"):
            return self._download(resp.content, ctype)
        return answer(name, resp)

    def _download(self, body: bytes, ctype: str) -> Download:
        """A file the target streamed (task log download): served from a short-lived copy."""
        self.svc.paths.run_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".proxied-", dir=self.svc.paths.run_dir)
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
        path = Path(name)
        asyncio.get_running_loop().call_later(DOWNLOAD_KEEP, path.unlink, True)
        return Download(path, ctype or "application/octet-stream")


def _reason(err: Exception) -> str:
    text = str(err) or type(err).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "certificate not signed by the cluster CA"
    return text.splitlines()[0][:200]


def answer(node: str, resp: httpx.Response) -> Any:
    """The target's answer as a handler result: data (or Listing), or the same error."""
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    if resp.status_code >= 400:
        message = ""
        errors: Any = None
        if isinstance(doc, dict):
            message = str(doc.get("message") or "")
            errors = doc.get("errors")
        message = message.strip() or resp.reason_phrase or f"error {resp.status_code}"
        if isinstance(errors, dict) and errors:
            err: PyxisError = ParamError({str(k): str(v) for k, v in errors.items()}, message)
            err.status = resp.status_code
            raise err
        raise PyxisError(message, status=resp.status_code)
    if not isinstance(doc, dict) or "data" not in doc:
        raise PyxisError(f"proxy to node '{node}': answer is not an API envelope", status=502)
    if "total" in doc and isinstance(doc["data"], list):
        return Listing(doc["data"], int(doc["total"]))
    return doc["data"]
