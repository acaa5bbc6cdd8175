"""Forwarder: request and answer mapping against an in-process fake target node."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from clusterhelp import NODE

import pyxis.api.all  # noqa: F401 - registers the API methods
from pyxis.api.context import Call, Listing
from pyxis.cluster.link import StaticLink
from pyxis.cluster.proxy import MARKER, Forwarder, Request, answer
from pyxis.errors import ParamError, PyxisError
from pyxis.schema.registry import REGISTRY
from pyxis.services import Services

Seen = list[httpx.Request]


def forwarder(svc: Services, handler: Any) -> tuple[Forwarder, Seen]:
    seen: Seen = []

    def record(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return handler(req)  # type: ignore[no-any-return]

    fwd = Forwarder(svc, svc.cluster, transport=httpx.MockTransport(record))
    svc.cluster._forwarder = fwd
    return fwd, seen


def call(svc: Services, http: str, path: str, req: Request, authid: str = "a@pve") -> Call:
    m, _ = REGISTRY.route(http, path)
    c = Call(svc, authid, m, client="192.0.2.9")
    c.extra["request"] = req
    return c


def ok(data: Any, **extra: Any) -> Any:
    return lambda req: httpx.Response(200, json={"data": data, **extra})


COOKIE = {"cookie": "PVEAuthCookie=PVE%3Aa@pve%3A1::sig", "csrfpreventiontoken": "X:Y"}


async def test_request_is_forwarded_as_received(clustered: tuple[Services, StaticLink]) -> None:
    svc, _ = clustered
    svc.cluster.api_port = 8443
    fwd, seen = forwarder(svc, ok("UPID:node2:1"))
    req = Request(
        "POST",
        "/nodes/node2/qemu",
        b"",
        b"vmid=123&memory=512",
        {**COOKIE, "content-type": "application/x-www-form-urlencoded", "host": "n1"},
        "192.0.2.9",
    )
    c = call(svc, "POST", "/nodes/node2/qemu", req)
    assert await fwd.forward(c, {"node": "node2", "vmid": 123}) == "UPID:node2:1"
    (sent,) = seen
    assert str(sent.url) == "https://10.9.0.2:8443/api2/json/nodes/node2/qemu"
    assert sent.method == "POST"
    assert sent.content == b"vmid=123&memory=512"
    assert sent.headers["cookie"] == COOKIE["cookie"]
    assert sent.headers["csrfpreventiontoken"] == "X:Y"
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert sent.headers[MARKER] == NODE
    assert sent.headers["x-forwarded-for"] == "192.0.2.9"
    assert sent.headers["host"] != "n1"


async def test_token_and_query_string_pass_unchanged(
    clustered: tuple[Services, StaticLink],
) -> None:
    svc, _ = clustered
    fwd, seen = forwarder(svc, ok([{"n": 1}], total=7))
    token = {"authorization": "PVEAPIToken=a@pve!t=1234"}
    req = Request("GET", "/nodes/node3/tasks", b"limit=1&start=0", None, token)
    result = await fwd.forward(call(svc, "GET", "/nodes/node3/tasks", req), {"node": "node3"})
    assert result == Listing([{"n": 1}], 7)
    assert seen[0].url.query == b"limit=1&start=0"
    assert seen[0].headers["authorization"] == token["authorization"]
    assert "cookie" not in seen[0].headers


async def test_cli_caller_gets_a_fresh_ticket(clustered: tuple[Services, StaticLink]) -> None:
    svc, _ = clustered
    fwd, seen = forwarder(svc, ok(None))
    req = Request("GET", "/nodes/node2/status", b"", None, {})
    await fwd.forward(call(svc, "GET", "/nodes/node2/status", req, "root@pam"), {"node": "node2"})
    auth = seen[0].headers["authorization"]
    assert auth.startswith("PVEAuthCookie=PVE:root@pam:")
    assert svc.access.authenticate_ticket(auth.split("=", 1)[1]) == "root@pam"
    assert svc.access.verify_csrf(seen[0].headers["csrfpreventiontoken"], "root@pam")


@pytest.mark.parametrize(
    ("status", "body", "message", "errors"),
    [
        (
            403,
            {"data": None, "message": "Permission check failed (/vms/100, VM.Audit)"},
            "Permission check failed (/vms/100, VM.Audit)",
            None,
        ),
        (
            400,
            {
                "data": None,
                "message": "Parameter verification failed.",
                "errors": {"memory": "value must be at least 16"},
            },
            "Parameter verification failed.",
            {"memory": "value must be at least 16"},
        ),
        (500, {"data": None, "message": "VM 100 already running"}, "VM 100 already running", None),
        (502, None, "Bad Gateway", None),
    ],
)
async def test_errors_pass_through(
    clustered: tuple[Services, StaticLink],
    status: int,
    body: Any,
    message: str,
    errors: dict[str, str] | None,
) -> None:
    resp = httpx.Response(status, content=json.dumps(body).encode() if body else b"<html>")
    with pytest.raises(PyxisError) as info:
        answer("node2", resp)
    assert info.value.status == status
    assert info.value.message == message
    assert (getattr(info.value, "errors", None) or None) == errors
    if errors:
        assert isinstance(info.value, ParamError)


@pytest.mark.parametrize(
    ("node", "members", "message"),
    [
        ("nodeX", [1, 2, 3], "no such cluster node 'nodeX'"),
        ("node3", [1, 2], "node 'node3' is offline - no route to host (not forwarding)"),
    ],
)
async def test_unknown_and_offline_nodes_fail_fast(
    clustered: tuple[Services, StaticLink], node: str, members: list[int], message: str
) -> None:
    svc, link = clustered
    link.set_members(members)
    fwd, seen = forwarder(svc, ok(None))
    req = Request("GET", f"/nodes/{node}/status", b"", None, COOKIE)
    with pytest.raises(PyxisError) as info:
        await fwd.forward(call(svc, "GET", f"/nodes/{node}/status", req), {"node": node})
    assert (info.value.status, info.value.message) == (595, message)
    assert seen == []  # no connection attempt


async def test_a_forwarded_request_is_never_forwarded_again(
    clustered: tuple[Services, StaticLink],
) -> None:
    svc, _ = clustered
    fwd, seen = forwarder(svc, ok(None))
    req = Request("GET", "/nodes/node2/status", b"", None, {**COOKIE, MARKER: "node3"})
    with pytest.raises(PyxisError, match="proxy loop") as info:
        await fwd.forward(call(svc, "GET", "/nodes/node2/status", req), {"node": "node2"})
    assert info.value.status == 595
    assert seen == []


@pytest.mark.parametrize(
    ("exc", "status", "text"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused"), 595, "Connection refused"),
        (httpx.ConnectTimeout("timed out"), 595, "connection timed out"),
        (httpx.ReadTimeout("timed out"), 596, "connection timed out"),
        (
            httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
            595,
            "certificate not signed by the cluster CA",
        ),
    ],
)
async def test_connection_failures_answer_595_or_596(
    clustered: tuple[Services, StaticLink], exc: Exception, status: int, text: str
) -> None:
    svc, _ = clustered

    def fail(req: httpx.Request) -> httpx.Response:
        raise exc

    fwd, _ = forwarder(svc, fail)
    req = Request("GET", "/nodes/node2/status", b"", None, COOKIE)
    with pytest.raises(PyxisError) as info:
        await fwd.forward(call(svc, "GET", "/nodes/node2/status", req), {"node": "node2"})
    assert info.value.status == status
    assert "node 'node2'" in info.value.message and text in info.value.message


async def test_standalone_node_knows_no_other_node(svc: Services) -> None:
    req = Request("GET", "/nodes/other/status", b"", None, COOKIE)
    with pytest.raises(PyxisError) as info:
        await svc.proxy(call(svc, "GET", "/nodes/other/status", req), {"node": "other"})
    assert (info.value.status, info.value.message) == (595, "no such cluster node 'other'")


async def test_through_the_app_an_offline_target_is_a_595_reason(
    clustered: tuple[Services, StaticLink],
) -> None:
    from pyxis.server.app import ApiApp

    svc, link = clustered
    link.set_members([1, 2])
    transport = httpx.ASGITransport(app=ApiApp(svc, local=True))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
        r = await client.get("/api2/json/nodes/node3/status")
    assert r.status_code == 595
    assert r.json()["message"] == "node 'node3' is offline - no route to host (not forwarding)"


async def test_uploads_for_another_node_answer_a_clear_error(
    clustered: tuple[Services, StaticLink],
) -> None:
    from pyxis.server.app import ApiApp

    svc, _ = clustered
    transport = httpx.ASGITransport(app=ApiApp(svc, local=True))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="https://t") as client:
        r = await client.post(
            "/api2/json/nodes/node2/storage/local/upload",
            data={"content": "iso"},
            files={"filename": ("x.iso", b"0" * 1024, "application/octet-stream")},
        )
    # refused while streaming, before anything is stored or forwarded
    assert r.status_code == 400, r.text
    assert r.json()["message"] == "uploads must go to the node that holds the storage"


async def test_websockets_for_another_node_answer_a_clear_error(
    clustered: tuple[Services, StaticLink],
) -> None:
    from pyxis.cluster.proxy import not_forwarded

    err = not_forwarded("node2", "websocket connections")
    assert err.status == 501
    assert err.message == (
        "websocket connections to node 'node2' are not forwarded by this node; "
        "send the request to node 'node2' directly"
    )


async def test_a_download_comes_back_as_a_file(clustered: tuple[Services, StaticLink]) -> None:
    from pyxis.api.context import Download

    svc, _ = clustered
    text = b"starting\nTASK OK\n"
    fwd, _ = forwarder(
        svc, lambda req: httpx.Response(200, content=text, headers={"content-type": "text/plain"})
    )
    upid = "UPID:node2:00000001:00000001:00000001:qmcreate:100:root@pam:"
    path = f"/nodes/node2/tasks/{upid}/log"
    req = Request("GET", path, b"download=1", None, COOKIE)
    got = await fwd.forward(call(svc, "GET", path, req), {"node": "node2"})
    assert isinstance(got, Download)
    assert got.content_type == "text/plain"
    assert got.path.read_bytes() == text
