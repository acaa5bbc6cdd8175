"""Brute-force protection on ``POST /access/ticket``: per user and per source address."""

from __future__ import annotations

import httpx
import pytest
from funchelp import BASE, add_user

from pyxis.access import ratelimit
from pyxis.server.app import ApiApp
from pyxis.services import Services

TICKET = "/api2/json/access/ticket"
PW = "right-password-1"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(svc: Services) -> Clock:
    c = Clock()
    svc.access.clock = c
    return c


def _from(svc: Services, addr: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=ApiApp(svc), client=(addr, 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE)


async def _login(client: httpx.AsyncClient, user: str, pw: str) -> int:
    r = await client.post(TICKET, data={"username": user, "password": pw})
    if r.status_code == 401:
        assert r.json()["message"] == "authentication failure" or "failure" in r.text
    return r.status_code


async def test_user_locked_after_five_failures(
    svc: Services, root_api: httpx.AsyncClient, clock: Clock
) -> None:
    await add_user(root_api, "vic@pve", PW)
    async with _from(svc, "10.0.0.1") as a, _from(svc, "10.0.0.2") as b:
        for _ in range(5):
            assert await _login(a, "vic@pve", "guess") == 401
        # locked: even the right password fails, from any address
        assert await _login(a, "vic@pve", PW) == 401
        assert await _login(b, "vic@pve", PW) == 401
        clock.now += 61
        assert await _login(b, "vic@pve", PW) == 200
        # the success reset the user's record: five new failures are needed
        for _ in range(4):
            assert await _login(b, "vic@pve", "guess") == 401
        assert await _login(b, "vic@pve", PW) == 200


async def test_cooldown_grows(svc: Services, root_api: httpx.AsyncClient, clock: Clock) -> None:
    await add_user(root_api, "grow@pve", PW)
    async with _from(svc, "10.0.0.3") as a:
        for _ in range(5):
            await _login(a, "grow@pve", "guess")
        clock.now += 61
        for _ in range(5):
            await _login(a, "grow@pve", "guess")
        clock.now += 61
        assert await _login(a, "grow@pve", PW) == 401  # second lock lasts 120 s
        clock.now += 60
        assert await _login(a, "grow@pve", PW) == 200


async def test_source_locked_across_users_and_unknown_users(
    svc: Services, root_api: httpx.AsyncClient, clock: Clock
) -> None:
    await add_user(root_api, "real@pve", PW)
    async with _from(svc, "10.0.0.9") as attacker, _from(svc, "10.0.0.10") as other:
        for i in range(10):
            assert await _login(attacker, f"nobody{i}@pve", "guess") == 401
        assert await _login(attacker, "real@pve", PW) == 401
        assert await _login(other, "real@pve", PW) == 200


async def test_unknown_and_known_users_look_alike(
    svc: Services, root_api: httpx.AsyncClient, clock: Clock
) -> None:
    await add_user(root_api, "known@pve", PW)
    bodies = []
    async with _from(svc, "10.0.0.20") as a, _from(svc, "10.0.0.21") as b:
        for client, user in ((a, "known@pve"), (b, "ghost@pve")):
            for _ in range(6):
                r = await client.post(TICKET, data={"username": user, "password": "x"})
                bodies.append((r.status_code, r.json()))
    assert len(set(map(str, bodies))) == 1


def test_limiter_table() -> None:
    c = Clock()
    lim = ratelimit.LoginLimiter(
        clock=c, max_failures=3, max_source_failures=100, window=10, cooldown=5
    )
    steps = [
        # (action, seconds to advance first, expect locked afterwards)
        ("fail", 0, False),
        ("fail", 0, False),
        ("fail", 11, False),  # the first two fell out of the window
        ("fail", 0, False),
        ("fail", 0, True),
        ("check", 4, True),
        ("check", 1, False),
        ("fail", 0, False),
        ("fail", 0, False),
        ("fail", 0, True),
        ("check", 9, True),  # second lock: 10 s
        ("check", 1, False),
        ("ok", 0, False),
    ]
    for action, advance, locked in steps:
        c.now += advance
        if action == "fail":
            lim.failure("u@pve", "1.2.3.4")
        elif action == "ok":
            lim.success("u@pve")
        assert lim.locked("u@pve", None) is locked, (action, advance)
    assert lim.remaining("u@pve", None) == 0.0
