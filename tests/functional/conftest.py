"""Fixtures of the functional tier: extra clients and logged-in users with given roles.

Every test opens a fresh node, which would generate two RSA keys (ticket key pair and
TLS certificate).  To keep the tier fast, key pairs come from a small pool made once
per session and handed out in turn (any three successive ones differ, so rotation
tests still see new keys), and the self-signed certificate is made once per node name.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from funchelp import ClientFactory, Sess, UserFactory, add_user, client_for, ticket_login

import pyxis.access.tickets as tickets_mod
import pyxis.server.tls as tls_mod
from pyxis.services import Services

_real_keypair = tickets_mod.generate_keypair
_real_cert = tls_mod.make_self_signed


@pytest.fixture(scope="session")
def _keypair_pool() -> Iterator[tuple[bytes, bytes]]:
    return itertools.cycle([_real_keypair() for _ in range(3)])


@functools.cache
def _cached_cert(node: str, addresses: tuple[str, ...]) -> tuple[bytes, bytes]:
    return _real_cert(node, list(addresses))


@pytest.fixture(autouse=True)
def _fast_keys(
    monkeypatch: pytest.MonkeyPatch, _keypair_pool: Iterator[tuple[bytes, bytes]]
) -> None:
    monkeypatch.setattr(tickets_mod, "generate_keypair", lambda: next(_keypair_pool))
    monkeypatch.setattr(
        tls_mod, "make_self_signed", lambda node, addrs: _cached_cert(node, tuple(addrs))
    )


@pytest.fixture
async def new_client(svc: Services) -> AsyncIterator[ClientFactory]:
    """Open more unauthenticated HTTPS-side clients; all are closed at teardown."""
    opened: list[httpx.AsyncClient] = []

    def make() -> httpx.AsyncClient:
        client = client_for(svc)
        opened.append(client)
        return client

    yield make
    for client in opened:
        await client.aclose()


@pytest.fixture
async def user_session(root_api: httpx.AsyncClient, new_client: ClientFactory) -> UserFactory:
    """``await user_session("bob@pve", role="PVEAuditor", path="/")`` -> logged-in Sess."""

    async def make(
        userid: str,
        role: str | None = None,
        path: str = "/",
        password: str = "pw-for-tests-1",
        propagate: int = 1,
    ) -> Sess:
        await add_user(root_api, userid, password, role, path, propagate)
        return await ticket_login(new_client(), userid, password)

    return make
