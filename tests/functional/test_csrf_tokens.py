"""CSRF prevention tokens on ticket sessions, and API tokens (``PVEAPIToken``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from funchelp import UUID_RE, ClientFactory, Sess, UserFactory, grant

TOKEN_USER = "tok@pve"


def _auth(tokenid: str, secret: str, sep: str = "=") -> dict[str, str]:
    return {"Authorization": f"PVEAPIToken{sep}{tokenid}={secret}"}


# --- CSRF -------------------------------------------------------------------------


def _mutations(tmp_path: Path) -> list[tuple[str, str, dict[str, str]]]:
    return [
        ("POST", "/access/users", {"userid": "csrf-victim@pve"}),
        ("PUT", "/access/users/admin@pve", {"comment": "changed"}),
        ("DELETE", "/access/users/admin@pve", {}),
        ("POST", "/storage", {"storage": "csrfst", "type": "dir", "path": str(tmp_path / "x")}),
        ("PUT", "/cluster/options", {"keyboard": "de"}),
    ]


async def _send(
    client: httpx.AsyncClient, http: str, path: str, data: dict[str, str], **kw: Any
) -> httpx.Response:
    url = "/api2/json" + path
    if http in ("POST", "PUT"):
        return await client.request(http, url, data=data, **kw)
    return await client.request(http, url, params=data, **kw)


@pytest.mark.parametrize("idx", range(5), ids=["post-user", "put-user", "delete", "post", "put"])
async def test_ticket_mutation_without_csrf_is_refused(
    admin: Any, root_api: httpx.AsyncClient, tmp_path: Path, idx: int
) -> None:
    http, path, data = _mutations(tmp_path)[idx]
    before = (await root_api.get("/api2/json/access/users")).json()["data"]
    r = await _send(admin.client, http, path, data)
    assert r.status_code == 401, r.text
    assert "csrf" in r.json()["message"].lower()
    # nothing happened
    assert (await root_api.get("/api2/json/access/users")).json()["data"] == before
    storages = (await root_api.get("/api2/json/storage")).json()["data"]
    assert "csrfst" not in [s["storage"] for s in storages]
    assert not (tmp_path / "x").exists()
    assert "keyboard" not in (await root_api.get("/api2/json/cluster/options")).json()["data"]


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "00000000:AAAA", "FFFFFFFF:"],
    ids=["empty", "garbage", "forged", "no-digest"],
)
async def test_bad_csrf_tokens_are_refused(admin: Any, token: str) -> None:
    r = await admin.client.post(
        "/api2/json/access/users",
        data={"userid": "x1@pve"},
        headers={"CSRFPreventionToken": token},
    )
    assert r.status_code == 401


async def test_csrf_token_of_another_user_is_refused(
    admin: Any, user_session: UserFactory, root_api: httpx.AsyncClient
) -> None:
    other = await user_session("other@pve", role="Administrator")
    assert other.csrf != admin.csrf
    r = await admin.client.post(
        "/api2/json/access/users",
        data={"userid": "x2@pve"},
        headers={"CSRFPreventionToken": other.csrf},
    )
    assert r.status_code == 401
    users = [u["userid"] for u in (await root_api.get("/api2/json/access/users")).json()["data"]]
    assert "x2@pve" not in users
    # with its own token the same request works
    r = await admin.post("/access/users", data={"userid": "x2@pve"})
    assert r.status_code == 200, r.text


async def test_stale_csrf_token_is_refused(admin: Any, svc: Any) -> None:
    now = time.time()
    svc.access.clock = lambda: now - 7300
    stale = svc.access.make_csrf("admin@pve")
    svc.access.clock = lambda: now
    r = await admin.client.post(
        "/api2/json/access/users",
        data={"userid": "late@pve"},
        headers={"CSRFPreventionToken": stale},
    )
    assert r.status_code == 401
    # a token minted now for the same user is fine
    r = await admin.client.post(
        "/api2/json/access/users",
        data={"userid": "late@pve"},
        headers={"CSRFPreventionToken": svc.access.make_csrf("admin@pve")},
    )
    assert r.status_code == 200, r.text


async def test_get_needs_no_csrf(admin: Any) -> None:
    for path in ("/access/users", "/storage", "/nodes", "/cluster/options"):
        r = await admin.client.get("/api2/json" + path)
        assert r.status_code == 200, (path, r.text)


async def test_login_post_needs_no_csrf_even_with_a_cookie(admin: Any) -> None:
    # the session's client carries its cookie: renewing must not demand a CSRF token
    r = await admin.client.post(
        "/api2/json/access/ticket", data={"username": "admin@pve", "password": admin.ticket}
    )
    assert r.status_code == 200, r.text


# --- API tokens -------------------------------------------------------------------


async def _make_token(
    root_api: httpx.AsyncClient, userid: str, name: str, privsep: int
) -> tuple[str, str]:
    r = await root_api.post(
        f"/api2/json/access/users/{userid}/token/{name}",
        data={"privsep": str(privsep), "comment": "functional test"},
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["full-tokenid"] == f"{userid}!{name}"
    assert data["info"]["privsep"] == privsep
    assert UUID_RE.match(data["value"]), data["value"]
    return data["full-tokenid"], data["value"]


@pytest.fixture
async def token_user(user_session: UserFactory) -> Sess:
    return await user_session(TOKEN_USER, role="Administrator")


async def test_token_secret_is_shown_once(root_api: httpx.AsyncClient, token_user: Sess) -> None:
    _, secret = await _make_token(root_api, TOKEN_USER, "t1", 1)
    for path in (f"/access/users/{TOKEN_USER}/token", f"/access/users/{TOKEN_USER}/token/t1"):
        r = await root_api.get("/api2/json" + path)
        assert r.status_code == 200
        assert secret not in r.text
        assert "value" not in r.text
    r = await root_api.get(f"/api2/json/access/users/{TOKEN_USER}/token")
    assert [t["tokenid"] for t in r.json()["data"]] == ["t1"]
    r = await root_api.get(f"/api2/json/access/users/{TOKEN_USER}")
    assert r.json()["data"]["tokens"]["t1"]["comment"] == "functional test"
    assert secret not in r.text
    # a token name can only be used once
    r = await root_api.post(f"/api2/json/access/users/{TOKEN_USER}/token/t1")
    assert r.status_code == 400
    assert "tokenid" in r.json()["errors"]


async def test_own_tokens_are_managed_by_their_user(token_user: Sess) -> None:
    r = await token_user.post(f"/access/users/{TOKEN_USER}/token/mine")
    assert r.status_code == 200, r.text
    assert UUID_RE.match(r.json()["data"]["value"])


@pytest.mark.parametrize("sep", ["=", " ", "  "], ids=["equals", "space", "spaces"])
async def test_token_authenticates_without_csrf(
    root_api: httpx.AsyncClient, token_user: Sess, new_client: ClientFactory, sep: str
) -> None:
    tokenid, secret = await _make_token(root_api, TOKEN_USER, "t1", 0)
    client = new_client()
    r = await client.get("/api2/json/access/users", headers=_auth(tokenid, secret, sep))
    assert r.status_code == 200, r.text
    # mutating calls need no CSRF token with an API token
    r = await client.post(
        "/api2/json/access/users", data={"userid": "bytoken@pve"}, headers=_auth(tokenid, secret)
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "header",
    [
        "PVEAPIToken=tok@pve!t1=00000000-0000-0000-0000-000000000000",
        "PVEAPIToken=tok@pve!nosuch={secret}",
        "PVEAPIToken=ghost@pve!t1={secret}",
        "PVEAPIToken=tok@pve!t1",
        "PVEAPIToken=tok@pve!t1=",
        "PVEAPIToken=tok@pve={secret}",
        "PVEAPITokentok@pve!t1={secret}",
    ],
    ids=["wrong-secret", "wrong-name", "wrong-user", "no-secret", "empty", "no-name", "no-sep"],
)
async def test_bad_token_headers_are_401(
    root_api: httpx.AsyncClient,
    token_user: Sess,
    new_client: ClientFactory,
    header: str,
) -> None:
    _, secret = await _make_token(root_api, TOKEN_USER, "t1", 0)
    client = new_client()
    r = await client.get(
        "/api2/json/access/users", headers={"Authorization": header.format(secret=secret)}
    )
    assert r.status_code == 401, r.text


async def test_privsep_token_needs_its_own_acl(
    root_api: httpx.AsyncClient, token_user: Sess, new_client: ClientFactory, tmp_path: Path
) -> None:
    sep_id, sep_secret = await _make_token(root_api, TOKEN_USER, "sep", 1)
    full_id, full_secret = await _make_token(root_api, TOKEN_USER, "full", 0)
    client = new_client()

    async def create(name: str, headers: dict[str, str]) -> httpx.Response:
        return await client.post(
            "/api2/json/storage",
            data={"storage": name, "type": "dir", "path": str(tmp_path / name)},
            headers=headers,
        )

    r = await create("bysep", _auth(sep_id, sep_secret))
    assert r.status_code == 403, r.text
    assert not (tmp_path / "bysep").exists()
    r = await create("byfull", _auth(full_id, full_secret))
    assert r.status_code == 200, r.text
    # granting the privsep token its own ACL lets it through (user ∩ token)
    await grant(root_api, "/storage", "PVEDatastoreAdmin", tokens=sep_id)
    r = await create("bysep", _auth(sep_id, sep_secret))
    assert r.status_code == 200, r.text
    # ...but never beyond what its user holds
    await root_api.put(
        "/api2/json/access/acl",
        data={"path": "/", "roles": "Administrator", "users": TOKEN_USER, "delete": "1"},
    )
    r = await create("bysep2", _auth(sep_id, sep_secret))
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("http", "path", "data"),
    [
        ("POST", "/access/ticket", {"username": TOKEN_USER, "password": "pw-for-tests-1"}),
        ("PUT", "/access/password", {"userid": TOKEN_USER, "password": "new-password-1"}),
    ],
    ids=["ticket", "password"],
)
async def test_token_refused_where_allowtoken_is_0(
    root_api: httpx.AsyncClient,
    token_user: Sess,
    new_client: ClientFactory,
    http: str,
    path: str,
    data: dict[str, str],
) -> None:
    tokenid, secret = await _make_token(root_api, TOKEN_USER, "t1", 0)
    client = new_client()
    r = await client.request(http, "/api2/json" + path, data=data, headers=_auth(tokenid, secret))
    assert r.status_code == 403, r.text
    # the password is unchanged
    r = await client.post(
        "/api2/json/access/ticket", data={"username": TOKEN_USER, "password": "pw-for-tests-1"}
    )
    assert r.status_code == 200


async def test_removed_token_is_401(
    root_api: httpx.AsyncClient, token_user: Sess, new_client: ClientFactory
) -> None:
    tokenid, secret = await _make_token(root_api, TOKEN_USER, "t1", 0)
    client = new_client()
    assert (
        await client.get("/api2/json/access/users", headers=_auth(tokenid, secret))
    ).status_code == 200
    r = await token_user.delete(f"/access/users/{TOKEN_USER}/token/t1")
    assert r.status_code == 200, r.text
    r = await client.get("/api2/json/access/users", headers=_auth(tokenid, secret))
    assert r.status_code == 401
    r = await root_api.get(f"/api2/json/access/users/{TOKEN_USER}/token/t1")
    assert r.status_code == 404


async def test_token_dies_with_its_user(
    root_api: httpx.AsyncClient, token_user: Sess, new_client: ClientFactory
) -> None:
    tokenid, secret = await _make_token(root_api, TOKEN_USER, "t1", 0)
    client = new_client()
    r = await root_api.put(f"/api2/json/access/users/{TOKEN_USER}", data={"enable": "0"})
    assert r.status_code == 200
    r = await client.get("/api2/json/access/users", headers=_auth(tokenid, secret))
    assert r.status_code == 401
    await root_api.put(f"/api2/json/access/users/{TOKEN_USER}", data={"enable": "1"})
    await root_api.delete(f"/api2/json/access/users/{TOKEN_USER}")
    r = await client.get("/api2/json/access/users", headers=_auth(tokenid, secret))
    assert r.status_code == 401


async def test_expired_token_is_401(
    root_api: httpx.AsyncClient, token_user: Sess, new_client: ClientFactory
) -> None:
    tokenid, secret = await _make_token(root_api, TOKEN_USER, "t1", 0)
    r = await root_api.put(f"/api2/json/access/users/{TOKEN_USER}/token/t1", data={"expire": "1"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["expire"] == 1
    client = new_client()
    r = await client.get("/api2/json/access/users", headers=_auth(tokenid, secret))
    assert r.status_code == 401
