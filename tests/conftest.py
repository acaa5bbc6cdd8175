"""Shared fixtures: a node's services in a temp root, in-process API clients, logins.

``root_api`` talks to the app as the CLI's unix socket does (root@pam); ``api`` is an
unauthenticated HTTPS-side client; ``admin`` is logged in with a ticket as an
``Administrator`` user of the ``pve`` realm.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from pyxis.paths import Paths
from pyxis.server.app import ApiApp
from pyxis.services import Services, Settings

NODE = "testnode"
ADMIN = "admin@pve"
ADMIN_PW = "s3cret-admin-pw"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", help="run minutes-long tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow") or os.environ.get("PYXIS_RUN_SLOW"):
        return
    skip = pytest.mark.skip(reason="slow: opt in with --run-slow or PYXIS_RUN_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@dataclass
class Session:
    client: httpx.AsyncClient
    ticket: str
    csrf: str

    @property
    def headers(self) -> dict[str, str]:
        return {"CSRFPreventionToken": self.csrf}

    async def get(self, path: str, **kw: object) -> httpx.Response:
        return await self.client.get("/api2/json" + path, **kw)  # type: ignore[arg-type]

    async def post(self, path: str, **kw: object) -> httpx.Response:
        return await self.client.post("/api2/json" + path, headers=self.headers, **kw)  # type: ignore[arg-type]

    async def put(self, path: str, **kw: object) -> httpx.Response:
        return await self.client.put("/api2/json" + path, headers=self.headers, **kw)  # type: ignore[arg-type]

    async def delete(self, path: str, **kw: object) -> httpx.Response:
        return await self.client.delete("/api2/json" + path, headers=self.headers, **kw)  # type: ignore[arg-type]


@pytest.fixture
async def svc(tmp_path: Path) -> AsyncIterator[Services]:
    services = await Services.open(Paths.at(tmp_path), NODE, Settings(auth_fail_delay=0))
    yield services
    await services.close()


def _client(app: ApiApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


@pytest.fixture
async def root_api(svc: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(ApiApp(svc, local=True)) as client:
        yield client


@pytest.fixture
async def api(svc: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(ApiApp(svc)) as client:
        yield client


async def make_user(
    root_api: httpx.AsyncClient,
    userid: str,
    password: str,
    role: str | None = None,
    path: str = "/",
) -> None:
    r = await root_api.post(
        "/api2/json/access/users", data={"userid": userid, "password": password}
    )
    assert r.status_code == 200, r.text
    if role:
        r = await root_api.put(
            "/api2/json/access/acl", data={"path": path, "users": userid, "roles": role}
        )
        assert r.status_code == 200, r.text


async def login(api: httpx.AsyncClient, userid: str, password: str) -> Session:
    r = await api.post("/api2/json/access/ticket", data={"username": userid, "password": password})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    api.cookies.set("PVEAuthCookie", data["ticket"])
    return Session(api, data["ticket"], data["CSRFPreventionToken"])


@pytest.fixture
async def admin(root_api: httpx.AsyncClient, api: httpx.AsyncClient) -> Session:
    await make_user(root_api, ADMIN, ADMIN_PW, "Administrator")
    return await login(api, ADMIN, ADMIN_PW)
