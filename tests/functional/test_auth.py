"""Login tickets over the API: issue, renew, present, expire, revoke and key rotation."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from funchelp import CSRF_RE, TICKET_RE, add_user, ticket_login

import pyxis.store.local as store_local
from pyxis.services import Services

ADMIN, ADMIN_PW = "admin@pve", "s3cret-admin-pw"
TICKET_URL = "/api2/json/access/ticket"


async def _ticket(api: httpx.AsyncClient, **data: str) -> httpx.Response:
    return await api.post(TICKET_URL, data=data)


async def test_login_returns_ticket_csrf_and_cap(
    root_api: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    await add_user(root_api, ADMIN, ADMIN_PW, "Administrator")
    before = int(time.time())
    r = await _ticket(api, username=ADMIN, password=ADMIN_PW)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json;charset=UTF-8"
    data = r.json()["data"]
    assert data["username"] == ADMIN
    m = TICKET_RE.match(data["ticket"])
    assert m is not None, data["ticket"]
    assert m["user"] == ADMIN
    assert before - 1 <= int(m["time"], 16) <= int(time.time()) + 1
    assert CSRF_RE.match(data["CSRFPreventionToken"])
    cap = data["cap"]
    assert set(cap) == {"vms", "access", "storage", "nodes", "sdn", "dc", "mapping"}
    assert cap["storage"]["Datastore.Allocate"] == 1
    assert cap["nodes"]["Sys.Audit"] == 1
    assert cap["access"]["User.Modify"] == 1


async def test_cap_reflects_limited_roles(
    root_api: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    await add_user(root_api, "aud@pve", "auditor-pw-1", "PVEAuditor")
    r = await _ticket(api, username="aud@pve", password="auditor-pw-1")
    cap = r.json()["data"]["cap"]
    assert cap["nodes"] == {"Sys.Audit": 1}
    assert "Datastore.Allocate" not in cap["storage"]
    assert cap["storage"]["Datastore.Audit"] == 1


@pytest.mark.parametrize(
    "data",
    [
        {"username": ADMIN, "password": "wrong-password"},
        {"username": "ghost@pve", "password": ADMIN_PW},
        {"username": "ghost@pve", "password": "wrong-password"},
        {"username": "admin", "realm": "pam", "password": ADMIN_PW},
        {"username": "admin", "password": ADMIN_PW},
        {"username": "admin@nosuchrealm", "password": ADMIN_PW},
    ],
    ids=["wrong-password", "unknown-user", "both-wrong", "wrong-realm", "no-realm", "bad-realm"],
)
async def test_login_failures_are_indistinguishable(
    root_api: httpx.AsyncClient, api: httpx.AsyncClient, data: dict[str, str]
) -> None:
    await add_user(root_api, ADMIN, ADMIN_PW, "Administrator")
    r = await _ticket(api, **data)
    assert r.status_code == 401
    body = r.json()
    assert body == {"data": None, "message": "authentication failure"}
    assert "set-cookie" not in r.headers


async def test_realm_parameter_completes_the_username(
    root_api: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    await add_user(root_api, ADMIN, ADMIN_PW, "Administrator")
    r = await _ticket(api, username="admin", realm="pve", password=ADMIN_PW)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["username"] == ADMIN
    assert TICKET_RE.match(data["ticket"])["user"] == ADMIN  # type: ignore[index]


async def test_ticket_renewal_with_ticket_as_password(
    root_api: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    await add_user(root_api, ADMIN, ADMIN_PW, "Administrator")
    await add_user(root_api, "other@pve", "other-pw-123")
    first = await ticket_login(api, ADMIN, ADMIN_PW)
    r = await _ticket(api, username=ADMIN, password=first.ticket)
    assert r.status_code == 200, r.text
    renewed = r.json()["data"]
    assert renewed["username"] == ADMIN
    assert TICKET_RE.match(renewed["ticket"])
    # the renewed ticket authenticates on its own
    r = await api.get(
        "/api2/json/access/users", headers={"Cookie": f"PVEAuthCookie={renewed['ticket']}"}
    )
    assert r.status_code == 200
    # a ticket only renews for the user it was issued to
    r = await _ticket(api, username="other@pve", password=first.ticket)
    assert r.status_code == 401


async def test_cookie_and_authorization_header_both_authenticate(
    svc: Services, root_api: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    await add_user(root_api, ADMIN, ADMIN_PW, "Administrator")
    r = await _ticket(api, username=ADMIN, password=ADMIN_PW)
    ticket = r.json()["data"]["ticket"]
    for headers in (
        {"Cookie": f"PVEAuthCookie={quote(ticket, safe='')}"},
        {"Cookie": f"PVEAuthCookie={ticket}"},
        {"Authorization": f"PVEAuthCookie={quote(ticket, safe='')}"},
        {"Authorization": f"PVEAuthCookie={ticket}"},
    ):
        r = await api.get("/api2/json/access/users", headers=headers)
        assert r.status_code == 200, (headers, r.text)
        assert ADMIN in [u["userid"] for u in r.json()["data"]]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Cookie": "PVEAuthCookie="},
        {"Cookie": "PVEAuthCookie=garbage"},
        {"Authorization": "PVEAuthCookie=PVE:admin@pve:00000000::AAAA"},
        {"Authorization": "Basic YWRtaW46cGFzcw=="},
    ],
    ids=["none", "empty-cookie", "garbage", "bad-signature", "basic-auth"],
)
async def test_missing_or_bogus_auth_is_401(
    root_api: httpx.AsyncClient, api: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    await add_user(root_api, ADMIN, ADMIN_PW, "Administrator")
    r = await api.get("/api2/json/access/users", headers=headers)
    assert r.status_code == 401
    assert r.json()["data"] is None
    assert r.headers.get("connection") == "close"


def _tamper(ticket: str) -> list[str]:
    m = TICKET_RE.match(ticket)
    assert m is not None
    sig = m["sig"]
    flipped = ("B" if sig[0] != "B" else "C") + sig[1:]
    return [
        f"PVE:root@pam:{m['time']}::{sig}",  # other user, same signature
        f"PVE:{m['user']}:{int(m['time'], 16) + 1:08X}::{sig}",  # other time
        f"PVE:{m['user']}:{m['time']}::{flipped}",  # damaged signature
        f"PVE:{m['user']}:{m['time']}::",  # no signature
        ticket + "x",
    ]


async def test_tampered_tickets_are_rejected(
    root_api: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    await add_user(root_api, ADMIN, ADMIN_PW, "Administrator")
    r = await _ticket(api, username=ADMIN, password=ADMIN_PW)
    ticket = r.json()["data"]["ticket"]
    for bad in _tamper(ticket):
        r = await api.get("/api2/json/access/users", headers={"Cookie": f"PVEAuthCookie={bad}"})
        assert r.status_code == 401, bad
        # nor can a tampered ticket be renewed
        r = await _ticket(api, username=ADMIN, password=bad)
        assert r.status_code == 401, bad


@pytest.mark.parametrize(
    ("shift", "ok"),
    [(0, True), (7000, True), (7201, False), (-200, True), (-400, False)],
    ids=["fresh", "almost-2h", "expired", "skew-ok", "future"],
)
async def test_ticket_lifetime(
    svc: Services, root_api: httpx.AsyncClient, api: httpx.AsyncClient, shift: int, ok: bool
) -> None:
    await add_user(root_api, ADMIN, ADMIN_PW, "Administrator")
    session = await ticket_login(api, ADMIN, ADMIN_PW)
    issued = int(TICKET_RE.match(session.ticket)["time"], 16)  # type: ignore[index]
    svc.access.clock = lambda: float(issued + shift)
    r = await session.get("/access/users")
    assert (r.status_code == 200) is ok, (shift, r.status_code, r.text)
    if not ok:
        assert r.status_code == 401


async def test_disabled_user_ticket_stops_working(
    root_api: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    await add_user(root_api, ADMIN, ADMIN_PW, "Administrator")
    session = await ticket_login(api, ADMIN, ADMIN_PW)
    assert (await session.get("/access/users")).status_code == 200
    r = await root_api.put(f"/api2/json/access/users/{ADMIN}", data={"enable": "0"})
    assert r.status_code == 200, r.text
    r = await session.get("/access/users")
    assert r.status_code == 401
    # neither a password login nor a renewal gets a new ticket
    assert (await _ticket(api, username=ADMIN, password=ADMIN_PW)).status_code == 401
    assert (await _ticket(api, username=ADMIN, password=session.ticket)).status_code == 401
    # re-enabled, the same ticket is good again
    await root_api.put(f"/api2/json/access/users/{ADMIN}", data={"enable": "1"})
    assert (await session.get("/access/users")).status_code == 200


async def test_expired_user_cannot_log_in(
    root_api: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    await add_user(root_api, ADMIN, ADMIN_PW, "Administrator")
    session = await ticket_login(api, ADMIN, ADMIN_PW)
    r = await root_api.put(
        f"/api2/json/access/users/{ADMIN}", data={"expire": str(int(time.time()) - 60)}
    )
    assert r.status_code == 200, r.text
    assert (await session.get("/access/users")).status_code == 401
    assert (await _ticket(api, username=ADMIN, password=ADMIN_PW)).status_code == 401


async def _users_with(api: httpx.AsyncClient, ticket: str) -> int:
    r = await api.get("/api2/json/access/users", headers={"Cookie": f"PVEAuthCookie={ticket}"})
    return r.status_code


async def test_key_rotation_keeps_previous_key_only(
    svc: Services, root_api: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    await add_user(root_api, ADMIN, ADMIN_PW, "Administrator")
    t1 = (await _ticket(api, username=ADMIN, password=ADMIN_PW)).json()["data"]["ticket"]
    pub1 = svc.store.read("authkey.pub")
    await svc.access.rotate_key()
    assert svc.store.read("authkey.pub") != pub1
    assert svc.store.read("authkey.pub.old") == pub1
    assert await _users_with(api, t1) == 200, "ticket of the previous key must stay valid"
    t2 = (await _ticket(api, username=ADMIN, password=ADMIN_PW)).json()["data"]["ticket"]
    assert await _users_with(api, t2) == 200
    await svc.access.rotate_key()
    assert await _users_with(api, t1) == 401, "two rotations ago: must be refused"
    assert await _users_with(api, t2) == 200
    # a stale ticket cannot be renewed either
    assert (await _ticket(api, username=ADMIN, password=t1)).status_code == 401


async def test_key_rotates_automatically_after_24h(
    svc: Services,
    root_api: httpx.AsyncClient,
    api: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await add_user(root_api, ADMIN, ADMIN_PW, "Administrator")
    assert (await _ticket(api, username=ADMIN, password=ADMIN_PW)).status_code == 200
    pub1 = svc.store.read("authkey.pub")
    # a login within the day keeps the key
    assert svc.store.read("authkey.pub") == pub1
    later = time.time() + 24 * 3600 + 60

    def clock() -> float:
        return later

    # the store stamps files with its own clock: move it along with the access clock
    fake_time: Any = SimpleNamespace(**{k: getattr(time, k) for k in dir(time) if k[0] != "_"})
    fake_time.time = clock
    monkeypatch.setattr(store_local, "time", fake_time)
    svc.access.clock = clock
    r = await _ticket(api, username=ADMIN, password=ADMIN_PW)
    assert r.status_code == 200, r.text
    pub2 = svc.store.read("authkey.pub")
    assert pub2 != pub1, "the login after 24 h must rotate the key"
    assert svc.store.read("authkey.pub.old") == pub1
    ticket = r.json()["data"]["ticket"]
    assert await _users_with(api, ticket) == 200
    # the next login does not rotate again
    assert (await _ticket(api, username=ADMIN, password=ADMIN_PW)).status_code == 200
    assert svc.store.read("authkey.pub") == pub2


@pytest.mark.parametrize(
    ("role", "path", "privs", "status"),
    [
        ("Administrator", "/", "Sys.Audit", 200),
        ("Administrator", "/storage/local", "Datastore.Allocate,Datastore.Audit", 200),
        ("PVEAuditor", "/nodes/testnode", "Sys.Audit", 200),
        ("PVEAuditor", "/storage", "Datastore.Allocate", 401),
        ("PVEAuditor", "/", "Sys.Audit,Sys.Modify", 401),
    ],
)
async def test_verify_mode_checks_privileges(
    root_api: httpx.AsyncClient,
    api: httpx.AsyncClient,
    role: str,
    path: str,
    privs: str,
    status: int,
) -> None:
    await add_user(root_api, "v@pve", "verify-pw-1", role)
    r = await _ticket(api, username="v@pve", password="verify-pw-1", path=path, privs=privs)
    assert r.status_code == status, r.text
    if status == 200:
        assert r.json()["data"] == {"username": "v@pve"}
    else:
        assert r.json()["message"] == "authentication failure"


async def test_verify_mode_needs_valid_credentials(
    root_api: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    await add_user(root_api, ADMIN, ADMIN_PW, "Administrator")
    r = await _ticket(api, username=ADMIN, password="nope-nope", path="/", privs="Sys.Audit")
    assert r.status_code == 401
    # path without privs (and the reverse) is a parameter error
    r = await _ticket(api, username=ADMIN, password=ADMIN_PW, path="/")
    assert r.status_code == 400
    assert "privs" in r.json()["errors"]


async def test_root_may_log_in_via_local_socket(root_api: httpx.AsyncClient) -> None:
    # the local socket is root@pam without any ticket
    r = await root_api.get("/api2/json/access/users")
    assert r.status_code == 200
    assert "root@pam" in [u["userid"] for u in r.json()["data"]]


async def test_get_ticket_and_domains_need_no_auth(api: httpx.AsyncClient) -> None:
    r = await api.get(TICKET_URL)
    assert r.status_code == 200
    assert r.json() == {"data": None}
    r = await api.get("/api2/json/access/domains")
    assert r.status_code == 200
    assert {d["realm"] for d in r.json()["data"]} >= {"pam", "pve"}
