"""Request parameters and the response envelope: formats, validation errors, limits, 501s.

httpx over ``ASGITransport`` does not carry HTTP reason phrases, so the message is
checked in the JSON body here; the reason phrase itself is a system-tier test.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from funchelp import NODE, UPID_RE, err


async def test_success_envelope_and_headers(root_api: httpx.AsyncClient) -> None:
    r = await root_api.get("/api2/json/version")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json;charset=UTF-8"
    body = r.json()
    assert list(body) == ["data"]
    assert {"version", "release", "repoid"} <= set(body["data"])
    # the body is compact JSON, as upstream writes it
    assert r.content == json.dumps(body, separators=(",", ":")).encode()


async def test_null_result_is_data_null(root_api: httpx.AsyncClient) -> None:
    r = await root_api.put("/api2/json/cluster/options", data={"keyboard": "de"})
    assert r.status_code == 200
    assert r.json() == {"data": None}


async def test_list_with_total(root_api: httpx.AsyncClient, svc: Any) -> None:
    async def nothing(log: Any) -> None:
        log.log("hi")

    for _ in range(3):
        upid = await svc.tasks.start("envtest", "", "root@pam", nothing)
        await svc.tasks.wait(upid)
    r = await root_api.get(f"/api2/json/nodes/{NODE}/tasks", params={"limit": "2"})
    body = r.json()
    assert set(body) == {"data", "total"}
    assert body["total"] == 3
    assert len(body["data"]) == 2
    assert all(UPID_RE.match(t["upid"]) for t in body["data"])


async def test_extjs_format_success(root_api: httpx.AsyncClient) -> None:
    r = await root_api.get("/api2/extjs/version")
    assert r.status_code == 200
    body = r.json()
    assert body["success"] == 1
    assert "version" in body["data"]


@pytest.mark.parametrize(
    ("http", "path", "data", "status", "param"),
    [
        ("GET", f"/nodes/{NODE}/tasks", {"bogus": "1"}, 400, "bogus"),
        ("POST", "/storage", {"storage": "1bad", "type": "dir", "path": "/tmp/x"}, 400, "storage"),
        ("GET", "/xyz", {}, 501, None),
        ("DELETE", "/version", {}, 501, None),
    ],
    ids=["unknown-param", "bad-format", "unknown-path", "unknown-method"],
)
async def test_extjs_format_errors_are_200(
    root_api: httpx.AsyncClient,
    http: str,
    path: str,
    data: dict[str, str],
    status: int,
    param: str | None,
) -> None:
    url = "/api2/extjs" + path
    if http in ("POST", "PUT"):
        r = await root_api.request(http, url, data=data)
    else:
        r = await root_api.request(http, url, params=data)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] == 0
    assert body["status"] == status
    assert body["data"] is None
    assert body["message"]
    if param:
        assert param in body["errors"]
    # the JSON format of the same request answers with the real status
    r = await root_api.request(
        http,
        "/api2/json" + path,
        **({"data": data} if http in ("POST", "PUT") else {"params": data}),
    )
    assert r.status_code == status


# (method, path, form data or query, offending parameter, message fragment)
PARAM_ERRORS: list[tuple[str, str, dict[str, str], str, str]] = [
    ("GET", f"/nodes/{NODE}/tasks", {"bogus": "1"}, "bogus", "not defined in schema"),
    ("GET", f"/nodes/{NODE}/tasks", {"limit": "-1"}, "limit", "minimum"),
    ("GET", f"/nodes/{NODE}/tasks", {"limit": "ten"}, "limit", "type check ('integer') failed"),
    ("GET", f"/nodes/{NODE}/tasks", {"errors": "true"}, "errors", "type check ('boolean') failed"),
    ("GET", f"/nodes/{NODE}/tasks", {"source": "x"}, "source", "enumeration"),
    ("GET", "/cluster/nextid", {"vmid": "99"}, "vmid", "minimum"),
    ("GET", "/cluster/nextid", {"vmid": "1000000000"}, "vmid", "maximum"),
    (
        "PUT",
        "/access/users/root@pam",
        {"enable": "true"},
        "enable",
        "type check ('boolean') failed",
    ),
    ("PUT", "/access/users/root@pam", {"enable": "yes"}, "enable", "type check ('boolean') failed"),
    ("PUT", "/access/users/root@pam", {"enable": "2"}, "enable", "type check ('boolean') failed"),
    ("PUT", "/access/users/root@pam", {"expire": "-5"}, "expire", "minimum"),
    ("PUT", "/access/users/root@pam", {"email": "not an email"}, "email", "email"),
    ("POST", "/storage", {"storage": "1bad", "type": "dir", "path": "/x"}, "storage", "storage ID"),
    ("POST", "/storage", {"storage": "a b", "type": "dir", "path": "/x"}, "storage", "storage ID"),
    ("POST", "/storage", {"storage": "ok1", "path": "/x"}, "type", "missing"),
    ("POST", "/storage", {"storage": "ok1", "type": "nfsx", "path": "/x"}, "type", "enumeration"),
    ("POST", "/access/users", {}, "userid", "missing"),
    ("POST", "/access/users", {"userid": "nouser"}, "userid", "user name"),
    ("POST", "/access/users", {"userid": "a@pve", "password": "short"}, "password", "at least"),
    ("PUT", "/access/acl", {"path": "/", "roles": "Administrator"}, "users", ""),
]


@pytest.mark.parametrize(
    ("http", "path", "data", "param", "fragment"),
    PARAM_ERRORS,
    ids=[f"{p[0]} {p[1]} {p[3]}={next(iter(p[2].values()), '')}" for p in PARAM_ERRORS],
)
async def test_parameter_errors_name_the_parameter(
    root_api: httpx.AsyncClient,
    http: str,
    path: str,
    data: dict[str, str],
    param: str,
    fragment: str,
) -> None:
    url = "/api2/json" + path
    if http in ("POST", "PUT"):
        r = await root_api.request(http, url, data=data)
    else:
        r = await root_api.request(http, url, params=data)
    assert r.status_code == 400, r.text
    body = err(r)
    assert body["message"] == "Parameter verification failed." or param in body["message"]
    assert param in body.get("errors", {}), body
    assert fragment in body["errors"][param], body
    assert r.headers.get("connection") == "close"


async def test_boolean_true_in_form_body_is_rejected_but_changes_nothing(
    root_api: httpx.AsyncClient,
) -> None:
    r = await root_api.put("/api2/json/access/users/root@pam", data={"enable": "true"})
    assert r.status_code == 400
    assert r.json()["errors"]["enable"].startswith("type check ('boolean') failed")
    r = await root_api.get("/api2/json/access/users/root@pam")
    assert r.json()["data"]["enable"] == 1


async def test_several_errors_are_reported_together(root_api: httpx.AsyncClient) -> None:
    r = await root_api.get(
        f"/api2/json/nodes/{NODE}/tasks", params={"limit": "-1", "bogus": "1", "errors": "2"}
    )
    assert r.status_code == 400
    assert set(r.json()["errors"]) == {"limit", "bogus", "errors"}


async def test_json_bodies_are_accepted(root_api: httpx.AsyncClient) -> None:
    r = await root_api.post(
        "/api2/json/access/users",
        json={"userid": "json@pve", "enable": True, "comment": "via json", "expire": 0},
    )
    assert r.status_code == 200, r.text
    r = await root_api.put("/api2/json/access/users/json@pve", json={"enable": False})
    assert r.status_code == 200, r.text
    r = await root_api.get("/api2/json/access/users/json@pve")
    data = r.json()["data"]
    assert data["enable"] == 0
    assert data["comment"] == "via json"
    # JSON types are still checked
    r = await root_api.put("/api2/json/access/users/json@pve", json={"enable": "yes"})
    assert r.status_code == 400
    assert "enable" in r.json()["errors"]
    r = await root_api.put("/api2/json/access/users/json@pve", json={"expire": "soon"})
    assert r.status_code == 400
    assert "expire" in r.json()["errors"]


@pytest.mark.parametrize(
    ("body", "ctype"),
    [(b"{not json", "application/json"), (b"[1, 2]", "application/json")],
    ids=["malformed", "not-an-object"],
)
async def test_bad_json_bodies_are_400(
    root_api: httpx.AsyncClient, body: bytes, ctype: str
) -> None:
    r = await root_api.post(
        "/api2/json/access/users", content=body, headers={"Content-Type": ctype}
    )
    assert r.status_code == 400
    assert err(r)["message"]


async def test_repeated_keys_of_a_scalar_parameter_are_400(root_api: httpx.AsyncClient) -> None:
    r = await root_api.get(f"/api2/json/nodes/{NODE}/tasks?limit=1&limit=2")
    assert r.status_code == 400
    assert "limit" in r.json()["errors"]
    r = await root_api.post(
        "/api2/json/access/users",
        content=b"userid=rep1%40pve&userid=rep2%40pve",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 400
    assert "userid" in r.json()["errors"]
    users = [u["userid"] for u in (await root_api.get("/api2/json/access/users")).json()["data"]]
    assert "rep1@pve" not in users
    assert "rep2@pve" not in users


async def test_query_parameters_merge_over_the_body(root_api: httpx.AsyncClient) -> None:
    r = await root_api.post(
        "/api2/json/access/users?comment=from-query",
        data={"userid": "merge@pve", "comment": "from-body"},
    )
    assert r.status_code == 200, r.text
    r = await root_api.get("/api2/json/access/users/merge@pve")
    assert r.json()["data"]["comment"] == "from-query"


async def test_path_parameter_repeated(root_api: httpx.AsyncClient) -> None:
    # the same value again is harmless
    r = await root_api.get(f"/api2/json/nodes/{NODE}/status", params={"node": NODE})
    assert r.status_code == 200
    # a different value is a 400 naming the parameter
    r = await root_api.get(f"/api2/json/nodes/{NODE}/status", params={"node": "othernode"})
    assert r.status_code == 400
    assert "node" in r.json()["errors"]
    r = await root_api.put(
        "/api2/json/access/users/root@pam", data={"userid": "admin@pve", "comment": "x"}
    )
    assert r.status_code == 400
    assert "userid" in r.json()["errors"]
    r = await root_api.get("/api2/json/access/users/root@pam")
    assert "comment" not in r.json()["data"]


async def test_oversized_body_is_400(root_api: httpx.AsyncClient) -> None:
    big = "x" * (512 * 1024 + 1)
    r = await root_api.post("/api2/json/access/users", data={"userid": "big@pve", "comment": big})
    assert r.status_code == 400
    assert "too large" in err(r)["message"]
    users = [u["userid"] for u in (await root_api.get("/api2/json/access/users")).json()["data"]]
    assert "big@pve" not in users


async def test_oversized_streamed_body_is_400(root_api: httpx.AsyncClient) -> None:
    async def chunks() -> Any:
        for _ in range(9):
            yield b"comment=" + b"y" * (64 * 1024)

    # no Content-Length: the limit must hold while reading
    r = await root_api.post(
        "/api2/json/access/users",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 400
    assert "too large" in err(r)["message"]


async def test_body_just_under_the_limit_is_fine(root_api: httpx.AsyncClient) -> None:
    comment = "z" * 2000
    r = await root_api.post(
        "/api2/json/access/users",
        data={"userid": "under@pve", "comment": comment},
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("http", "path", "message"),
    [
        ("GET", "/xyz", "Method 'GET /xyz' not implemented"),
        ("GET", "/nodes/testnode/nosuch", "Method 'GET /nodes/testnode/nosuch' not implemented"),
        ("PUT", "/version", "Method 'PUT /version' not implemented"),
        ("DELETE", "/cluster/nextid", "Method 'DELETE /cluster/nextid' not implemented"),
        ("POST", "/nodes", "Method 'POST /nodes' not implemented"),
    ],
)
async def test_unknown_path_or_method_is_501(
    root_api: httpx.AsyncClient, api: httpx.AsyncClient, http: str, path: str, message: str
) -> None:
    for client in (root_api, api):
        r = await client.request(http, "/api2/json" + path)
        assert r.status_code == 501, r.text
        assert err(r)["message"] == message


async def test_unknown_format_is_501(root_api: httpx.AsyncClient) -> None:
    r = await root_api.get("/api2/xml/version")
    assert r.status_code == 501


async def test_head_is_answered_like_get(root_api: httpx.AsyncClient) -> None:
    r = await root_api.head("/api2/json/version")
    assert r.status_code == 200


@pytest.mark.parametrize(
    ("path", "status"),
    [("/version", 401), ("/nodes", 401), ("/access/domains", 200), ("/access/ticket", 200)],
)
async def test_unauthenticated_access(api: httpx.AsyncClient, path: str, status: int) -> None:
    r = await api.get("/api2/json" + path)
    assert r.status_code == status, r.text
