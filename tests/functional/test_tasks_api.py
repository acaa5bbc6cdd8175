"""The tasks API: tasks started by endpoints, listing filters, status, logs, stop, access."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from funchelp import NODE, UPID_RE, Sess, UserFactory, client_for, volpath, wait_task

from pyxis.services import Services
from pyxis.tasks.manager import TaskLog
from pyxis.tasks.upid import UPID

TASKS = f"/api2/json/nodes/{NODE}/tasks"


async def _alloc(client: httpx.AsyncClient, vmid: int = 100, n: int = 0, **kw: Any) -> str:
    r = await client.post(
        f"/api2/json/nodes/{NODE}/storage/local/content",
        data={"vmid": str(vmid), "filename": f"vm-{vmid}-disk-{n}.raw", "size": "1M"},
        **kw,
    )
    assert r.status_code == 200, r.text
    volid: str = r.json()["data"]
    return volid


async def _delete_volume(client: httpx.AsyncClient, volid: str, **kw: Any) -> str:
    r = await client.delete(f"/api2/json/nodes/{NODE}/storage/local/content/{volpath(volid)}", **kw)
    assert r.status_code == 200, r.text
    upid: str = r.json()["data"]
    assert UPID_RE.match(upid), upid
    return upid


async def test_endpoint_task_runs_to_ok(root_api: httpx.AsyncClient, svc: Services) -> None:
    volid = await _alloc(root_api)
    upid = await _delete_volume(root_api, volid)
    u = UPID.parse(upid)
    assert (u.node, u.type, u.user) == (NODE, "imgdel", "root@pam")
    status = await wait_task(root_api, upid)
    assert status["exitstatus"] == "OK"
    assert status["upid"] == upid
    for key in ("node", "pid", "pstart", "starttime", "type", "id", "user"):
        assert status[key] == u.to_dict()[key]
    assert not (svc.paths.default_storage / "images/100/vm-100-disk-0.raw").exists()
    # the log: numbered lines, the volume named, TASK OK last
    r = await root_api.get(f"{TASKS}/{upid}/log")
    body = r.json()
    lines = body["data"]
    assert body["total"] == len(lines)
    assert [ln["n"] for ln in lines] == list(range(1, len(lines) + 1))
    assert all(set(ln) == {"n", "t"} for ln in lines)
    assert any(volid in ln["t"] for ln in lines)
    assert lines[-1]["t"] == "TASK OK"


async def test_log_paging_and_download(root_api: httpx.AsyncClient, svc: Services) -> None:
    async def chatty(log: TaskLog) -> None:
        for i in range(10):
            log.log(f"line {i}")

    upid = await svc.tasks.start("chatty", "", "root@pam", chatty)
    await wait_task(root_api, upid)
    r = await root_api.get(f"{TASKS}/{upid}/log", params={"start": "3", "limit": "4"})
    body = r.json()
    assert body["total"] == 11
    assert body["data"] == [{"n": n, "t": f"line {n - 1}"} for n in range(4, 8)]
    r = await root_api.get(f"{TASKS}/{upid}/log", params={"start": "9"})
    assert [ln["t"] for ln in r.json()["data"]] == ["line 9", "TASK OK"]
    r = await root_api.get(f"{TASKS}/{upid}/log", params={"download": "1"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text == "".join(f"line {i}\n" for i in range(10)) + "TASK OK\n"


async def test_failing_task_reports_its_error(root_api: httpx.AsyncClient, svc: Services) -> None:
    async def boom(log: TaskLog) -> None:
        log.log("about to fail")
        raise RuntimeError("disk on fire")

    upid = await svc.tasks.start("boom", "", "root@pam", boom)
    status = await wait_task(root_api, upid)
    assert status["exitstatus"] == "disk on fire"
    r = await root_api.get(f"{TASKS}/{upid}/log")
    assert r.json()["data"][-1]["t"] == "TASK ERROR: disk on fire"


async def test_warnings_are_counted(root_api: httpx.AsyncClient, svc: Services) -> None:
    async def warn(log: TaskLog) -> None:
        log.warn("one")
        log.warn("two")

    upid = await svc.tasks.start("warn", "", "root@pam", warn)
    assert (await wait_task(root_api, upid))["exitstatus"] == "WARNINGS: 2"


@pytest.fixture
async def history(svc: Services) -> AsyncIterator[dict[str, str]]:
    """Finished tasks of two users and types (one failed), plus a running one."""
    gate = asyncio.Event()

    async def ok(log: TaskLog) -> None:
        log.log("ok")

    async def bad(log: TaskLog) -> None:
        raise RuntimeError("bad")

    async def waits(log: TaskLog) -> None:
        await gate.wait()

    out = {}
    for name, typ, user, fn in (
        ("a1", "alpha", "admin@pve", ok),
        ("a2", "alpha", "admin@pve", ok),
        ("b1", "beta", "other@pve", ok),
        ("b2", "beta", "other@pve", bad),
        ("a3", "alpha", "root@pam", ok),
    ):
        out[name] = await svc.tasks.start(typ, "", user, fn)
        await svc.tasks.wait(out[name])
    out["run"] = await svc.tasks.start("gamma", "", "admin@pve", waits)
    yield out
    gate.set()
    await svc.tasks.wait(out["run"])


def _upids(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return [t["upid"] for t in r.json()["data"]]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["a3", "b2", "b1", "a2", "a1"]),
        ({"typefilter": "alpha"}, ["a3", "a2", "a1"]),
        ({"typefilter": "beta"}, ["b2", "b1"]),
        ({"userfilter": "other"}, ["b2", "b1"]),
        ({"userfilter": "admin@pve"}, ["a2", "a1"]),
        ({"errors": "1"}, ["b2"]),
        ({"statusfilter": "error"}, ["b2"]),
        ({"statusfilter": "ok"}, ["a3", "b1", "a2", "a1"]),
        ({"source": "active"}, ["run"]),
        ({"source": "all"}, ["run", "a3", "b2", "b1", "a2", "a1"]),
        ({"source": "all", "userfilter": "admin"}, ["run", "a2", "a1"]),
        ({"typefilter": "alpha", "userfilter": "root"}, ["a3"]),
    ],
)
async def test_list_filters(
    root_api: httpx.AsyncClient,
    history: dict[str, str],
    params: dict[str, str],
    expected: list[str],
) -> None:
    r = await root_api.get(TASKS, params=params)
    got = _upids(r)
    assert sorted(got) == sorted(history[n] for n in expected)
    assert r.json()["total"] == len(expected)


async def test_running_task_is_listed_as_running(
    root_api: httpx.AsyncClient, history: dict[str, str]
) -> None:
    r = await root_api.get(TASKS, params={"source": "active"})
    (item,) = r.json()["data"]
    assert item["upid"] == history["run"]
    assert "endtime" not in item
    r = await root_api.get(f"{TASKS}/{history['run']}/status")
    assert r.json()["data"]["status"] == "running"
    assert "exitstatus" not in r.json()["data"]


async def test_list_paging(root_api: httpx.AsyncClient, history: dict[str, str]) -> None:
    full = _upids(await root_api.get(TASKS))
    assert len(full) == 5
    pages = []
    for start in (0, 2, 4):
        r = await root_api.get(TASKS, params={"start": str(start), "limit": "2"})
        assert r.json()["total"] == 5
        pages += _upids(r)
    assert pages == full
    r = await root_api.get(TASKS, params={"start": "10"})
    assert r.json() == {"data": [], "total": 5}


async def test_delete_stops_a_running_task(root_api: httpx.AsyncClient, svc: Services) -> None:
    started = asyncio.Event()

    async def sleeper(log: TaskLog) -> None:
        log.log("sleeping")
        started.set()
        await asyncio.sleep(60)

    upid = await svc.tasks.start("test", "", "admin@pve", sleeper)
    await asyncio.wait_for(started.wait(), 5)
    r = await root_api.get(f"{TASKS}/{upid}/status")
    assert r.json()["data"]["status"] == "running"
    r = await root_api.delete(f"{TASKS}/{upid}")
    assert r.status_code == 200, r.text
    status = await wait_task(root_api, upid, timeout=5)
    assert status["exitstatus"] == "received interrupt"
    r = await root_api.get(f"{TASKS}/{upid}/log")
    assert r.json()["data"][-1]["t"] == "TASK ERROR: received interrupt"
    assert not svc.tasks.is_running(upid)
    # stopping a finished task is a no-op
    r = await root_api.delete(f"{TASKS}/{upid}")
    assert r.status_code == 200


async def test_task_survives_its_client(root_api: httpx.AsyncClient, svc: Services) -> None:
    gate = asyncio.Event()
    started: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def work(log: TaskLog) -> None:
        await gate.wait()
        log.log("finished after the client left")

    async def request_handler() -> None:
        # what an HTTP handler does: start the task, then wait for it
        upid = await svc.tasks.start("test", "", "admin@pve", work)
        started.set_result(upid)
        await svc.tasks.wait(upid)

    handler = asyncio.create_task(request_handler())
    upid = await asyncio.wait_for(started, 5)
    handler.cancel()  # the client went away
    with pytest.raises(asyncio.CancelledError):
        await handler
    r = await root_api.get(f"{TASKS}/{upid}/status")
    assert r.json()["data"]["status"] == "running"
    gate.set()
    status = await wait_task(root_api, upid, timeout=5)
    assert status["exitstatus"] == "OK"
    r = await root_api.get(f"{TASKS}/{upid}/log")
    assert "finished after the client left" in [ln["t"] for ln in r.json()["data"]]


async def test_task_of_a_closed_http_client_finishes(svc: Services) -> None:
    gate = asyncio.Event()

    async def work(log: TaskLog) -> None:
        await gate.wait()

    async with client_for(svc, local=True) as client:
        upid = await svc.tasks.start("test", "", "root@pam", work)
        r = await client.get(f"{TASKS}/{upid}/status")
        assert r.json()["data"]["status"] == "running"
    gate.set()
    assert await asyncio.wait_for(svc.tasks.wait(upid), 5) == "OK"


@pytest.mark.parametrize("sub", ["/status", "/log", "/log?download=1", ""], ids=str)
async def test_non_owner_without_audit_is_refused(
    admin: Any, user_session: UserFactory, svc: Services, sub: str
) -> None:
    stranger = await user_session("stranger@pve")
    volid = await _alloc(admin.client, headers=admin.headers)
    upid = await _delete_volume(admin.client, volid, headers=admin.headers)
    await wait_task(admin.client, upid)
    http = "DELETE" if sub == "" else "GET"
    kw: dict[str, Any] = {"headers": stranger.headers} if http == "DELETE" else {}
    r = await stranger.client.request(http, f"{TASKS}/{upid}{sub}", **kw)
    assert r.status_code == 403, r.text
    # the owner may read it
    r = await admin.client.get(f"{TASKS}/{upid}/status")
    assert r.status_code == 200


async def test_task_lists_are_filtered_by_owner(
    svc: Services, user_session: UserFactory, history: dict[str, str]
) -> None:
    other = await user_session("other@pve")
    mine = _upids(await other.get(f"/nodes/{NODE}/tasks"))
    assert sorted(mine) == sorted([history["b1"], history["b2"]])
    # asking for someone else's tasks does not widen the view
    r = await other.get(f"/nodes/{NODE}/tasks", params={"userfilter": "admin"})
    assert _upids(r) == []
    # Sys.Audit on the node shows everyone's
    auditor = await user_session("aud@pve", role="PVEAuditor", path=f"/nodes/{NODE}")
    assert len(_upids(await auditor.get(f"/nodes/{NODE}/tasks"))) == 5
    r = await auditor.get(f"/nodes/{NODE}/tasks/{history['b2']}/status")
    assert r.status_code == 200
    # ...but stopping a foreign task needs Sys.Modify
    r = await auditor.delete(f"/nodes/{NODE}/tasks/{history['run']}")
    assert r.status_code == 403
    assert svc.tasks.is_running(history["run"])


async def test_owner_may_stop_its_own_task(svc: Services, user_session: UserFactory) -> None:
    owner: Sess = await user_session("own@pve")

    async def sleeper(log: TaskLog) -> None:
        await asyncio.sleep(60)

    upid = await svc.tasks.start("test", "", "own@pve", sleeper)
    r = await owner.delete(f"/nodes/{NODE}/tasks/{upid}")
    assert r.status_code == 200, r.text
    assert (await wait_task(owner.client, upid))["exitstatus"] == "received interrupt"


@pytest.mark.parametrize(
    "upid",
    [
        "UPID:testnode:nothex",
        "UPID:testnode:0000ABCD:0000ABCD:6500000A:test::root@pam",
        "UPID:testnode:0000abcd:0000ABCD:6500000A:test::root@pam:",
    ],
    ids=["garbage", "no-trailing-colon", "lowercase-hex"],
)
async def test_malformed_upid_is_400(root_api: httpx.AsyncClient, upid: str) -> None:
    r = await root_api.get(f"{TASKS}/{upid}/status")
    assert r.status_code == 400
    assert "upid" in r.json()["errors"]


async def test_unknown_task_is_404(root_api: httpx.AsyncClient) -> None:
    upid = "UPID:testnode:0000ABCD:0000ABCD:6500000A:test::root@pam:"
    for sub in ("/status", "/log"):
        r = await root_api.get(f"{TASKS}/{upid}{sub}")
        assert r.status_code == 404, (sub, r.text)
