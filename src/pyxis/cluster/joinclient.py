"""A minimal API client to another node, trusting its certificate by SHA-256 fingerprint.

A joining node does not trust the cluster CA yet: as upstream's ``pvecm add``, it pins
the existing node's certificate fingerprint (``AA:BB:...``) that the operator checked.
:func:`peer_fingerprint` fetches the fingerprint to show when none was given.  Blocking
(stdlib ``http.client``); callers run it in a thread.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import ssl
from typing import Any
from urllib.parse import quote, urlencode

from pyxis.errors import PyxisError

PORT = 8006
TIMEOUT = 30.0


class JoinError(PyxisError):
    """Talking to the existing cluster node failed."""

    status = 500


def format_fp(der: bytes) -> str:
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def split_host(address: str) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port`` -> (host, port); JoinError if malformed."""
    host, port = address, str(PORT)
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else str(PORT)
    elif address.count(":") == 1:
        host, _, port = address.partition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise JoinError(f"invalid address of the existing node: '{address}'")
    return host, int(port)


def _context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # trust comes from the pinned fingerprint below
    return ctx


def peer_fingerprint(address: str, timeout: float = TIMEOUT) -> str:
    """The SHA-256 fingerprint of the certificate ``address`` serves."""
    host, port = split_host(address)
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            _context().wrap_socket(raw) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except OSError as err:
        raise JoinError(f"cannot connect to {host}:{port}: {err}") from err
    if not der:
        raise JoinError(f"{host}:{port} sent no certificate")
    return format_fp(der)


class _PinnedConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, fingerprint: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=_context())
        self.fingerprint = fingerprint.upper()
        self.local_address = ""

    def connect(self) -> None:
        super().connect()
        assert isinstance(self.sock, ssl.SSLSocket)
        der = self.sock.getpeercert(binary_form=True) or b""
        got = format_fp(der)
        if got != self.fingerprint:
            self.sock.close()
            raise JoinError(
                f"certificate fingerprint of {self.host} does not match: got {got}, "
                f"expected {self.fingerprint}"
            )
        self.local_address = str(self.sock.getsockname()[0])


class NodeClient:
    """Log in to a node and call its API over the pinned connection."""

    def __init__(self, address: str, fingerprint: str, timeout: float = TIMEOUT) -> None:
        self.host, self.port = split_host(address)
        self.fingerprint = fingerprint
        self.timeout = timeout
        self.ticket = ""
        self.csrf = ""
        self.local_address = ""

    def call(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        conn = _PinnedConnection(self.host, self.port, self.fingerprint, self.timeout)
        body = None
        url = "/api2/json" + quote(path)
        headers: dict[str, str] = {}
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        if method in ("GET", "DELETE"):
            url += ("?" + urlencode(clean)) if clean else ""
        else:
            body = urlencode(clean).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.ticket:
            headers["Cookie"] = "PVEAuthCookie=" + quote(self.ticket, safe="")
            headers["CSRFPreventionToken"] = self.csrf
        try:
            conn.request(method, url, body=body, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            self.local_address = conn.local_address or self.local_address
        except OSError as err:
            raise JoinError(f"request to {self.host}:{self.port} failed: {err}") from err
        finally:
            conn.close()
        try:
            doc = json.loads(raw) if raw else {}
        except ValueError:
            doc = {}
        if resp.status >= 400:
            msg = doc.get("message") or resp.reason
            errs = doc.get("errors") or {}
            detail = "; ".join(f"{k}: {v}" for k, v in sorted(errs.items()))
            raise JoinError(
                f"{self.host}: {method} {path}: {msg.strip()}" + (f" ({detail})" if detail else ""),
                status=resp.status if resp.status < 500 else 500,
            )
        return doc.get("data")

    def login(self, username: str, password: str) -> None:
        data = self.call("POST", "/access/ticket", {"username": username, "password": password})
        if not isinstance(data, dict) or "ticket" not in data:
            raise JoinError(f"{self.host}: login as {username} failed")
        self.ticket = str(data["ticket"])
        self.csrf = str(data.get("CSRFPreventionToken", ""))
