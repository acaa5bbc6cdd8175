"""Helpers shared by the functional tier: wire-format patterns, sessions, task polling.

The functional tests drive the ASGI app in process (httpx over ``ASGITransport``);
these helpers open extra clients for other users, log them in and wait for tasks.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from pyxis.server.app import ApiApp
from pyxis.services import Services

NODE = "testnode"
BASE = "https://testserver"
UPID_RE = re.compile(
    r"^UPID:[a-zA-Z0-9-]+:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:[^:\s]+:[^:\s]*:[^:\s]+:$"
)
TICKET_RE = re.compile(r"^PVE:(?P<user>[^:\s]+):(?P<time>[0-9A-F]{8})::(?P<sig>[A-Za-z0-9+/=]+)$")
CSRF_RE = re.compile(r"^[0-9A-F]{8}:[A-Za-z0-9+/]+$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def client_for(svc: Services, *, local: bool = False, **kw: Any) -> httpx.AsyncClient:
    """A fresh in-process client (its own cookie jar) for the node's API."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=ApiApp(svc, local=local)), base_url=BASE, **kw
    )


@dataclass
class Sess:
    """A ticket-authenticated client; mutating calls carry the CSRF header."""

    client: httpx.AsyncClient
    userid: str
    ticket: str
    csrf: str

    @property
    def headers(self) -> dict[str, str]:
        return {"CSRFPreventionToken": self.csrf}

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.client.get("/api2/json" + path, **kw)

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        return await self.client.post("/api2/json" + path, headers=self.headers, **kw)

    async def put(self, path: str, **kw: Any) -> httpx.Response:
        return await self.client.put("/api2/json" + path, headers=self.headers, **kw)

    async def delete(self, path: str, **kw: Any) -> httpx.Response:
        return await self.client.delete("/api2/json" + path, headers=self.headers, **kw)


async def add_user(
    root_api: httpx.AsyncClient,
    userid: str,
    password: str,
    role: str | None = None,
    path: str = "/",
    propagate: int = 1,
) -> None:
    r = await root_api.post(
        "/api2/json/access/users", data={"userid": userid, "password": password}
    )
    assert r.status_code == 200, r.text
    if role:
        await grant(root_api, path, role, users=userid, propagate=propagate)


async def grant(
    client: httpx.AsyncClient, path: str, role: str, *, propagate: int = 1, **who: str
) -> None:
    r = await client.put(
        "/api2/json/access/acl",
        data={"path": path, "roles": role, "propagate": str(propagate), **who},
    )
    assert r.status_code == 200, r.text


async def ticket_login(client: httpx.AsyncClient, userid: str, password: str) -> Sess:
    r = await client.post(
        "/api2/json/access/ticket", data={"username": userid, "password": password}
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    client.cookies.set("PVEAuthCookie", data["ticket"])
    return Sess(client, data["username"], data["ticket"], data["CSRFPreventionToken"])


async def wait_task(
    client: httpx.AsyncClient, upid: str, timeout: float = 15.0, prefix: str = "/api2/json"
) -> dict[str, Any]:
    """Poll a task's status until it is stopped; return the status object."""
    assert UPID_RE.match(upid), upid
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        r = await client.get(f"{prefix}/nodes/{NODE}/tasks/{upid}/status")
        assert r.status_code == 200, r.text
        status: dict[str, Any] = r.json()["data"]
        if status["status"] == "stopped":
            return status
        assert loop.time() < deadline, f"task {upid} still running"
        await asyncio.sleep(0.01)


def err(r: httpx.Response) -> dict[str, Any]:
    """The JSON error body of a failed request (asserting its envelope shape)."""
    body: dict[str, Any] = r.json()
    assert body["data"] is None, body
    assert isinstance(body.get("message"), str) and body["message"], body
    return body


def volpath(volid: str) -> str:
    """A volume id as one URL path segment (``/`` escaped, as clients send it)."""
    return volid.replace("/", "%2F")


UserFactory = Callable[..., Awaitable[Sess]]
ClientFactory = Callable[[], httpx.AsyncClient]
