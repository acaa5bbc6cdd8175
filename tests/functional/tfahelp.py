"""Helpers of the TFA tests: a driven clock, the two login steps, enrolment of a TOTP user."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import unquote

import httpx
import pyotp
from funchelp import ClientFactory, Sess, add_user, ticket_login

from pyxis.services import Services

TICKET = "/api2/json/access/ticket"
PW = "pw-for-tests-1"
ORIGIN = "https://testserver"


class Clock:
    def __init__(self) -> None:
        self.now = float(int(time.time()) // 30 * 30 + 5)

    def __call__(self) -> float:
        return self.now


def install_clock(svc: Services) -> Clock:
    c = Clock()
    svc.access.clock = c
    return c


async def first_step(client: httpx.AsyncClient, userid: str, password: str = PW) -> httpx.Response:
    return await client.post(TICKET, data={"username": userid, "password": password})


async def second_step(
    client: httpx.AsyncClient, userid: str, half: str, answer: str
) -> httpx.Response:
    return await client.post(
        TICKET, data={"username": userid, "tfa-challenge": half, "password": answer}
    )


def challenge(half: str) -> dict[str, Any]:
    data = half.split(":", 2)[1]
    assert unquote(data).startswith("!tfa!")
    result: dict[str, Any] = json.loads(unquote(data)[len("!tfa!") :])
    return result


async def get_half(client: httpx.AsyncClient, userid: str) -> str:
    r = await first_step(client, userid)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["NeedTFA"] == 1 and "CSRFPreventionToken" not in data
    ticket: str = data["ticket"]
    return ticket


async def user_with_totp(
    root_api: httpx.AsyncClient, new_client: ClientFactory, clock: Clock, userid: str
) -> tuple[Sess, pyotp.TOTP, str]:
    await add_user(root_api, userid, PW, "PVEAuditor")
    sess = await ticket_login(new_client(), userid, PW)
    totp = pyotp.TOTP(pyotp.random_base32())
    uri = totp.provisioning_uri(name=userid, issuer_name="pyxis")
    r = await sess.post(
        f"/access/tfa/{userid}",
        data={"type": "totp", "totp": uri, "value": totp.at(clock.now), "password": PW},
    )
    assert r.status_code == 200, r.text
    entry_id: str = r.json()["data"]["id"]
    return sess, totp, entry_id
