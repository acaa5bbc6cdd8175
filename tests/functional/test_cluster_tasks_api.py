"""``GET /cluster/tasks``: this node's tasks in upstream's shape, filtered per caller."""

from __future__ import annotations

import asyncio

import httpx
from funchelp import NODE, UserFactory, wait_task

from pyxis.api.cluster_tasks import merge_task_lists
from pyxis.services import Services
from pyxis.tasks.manager import TaskLog

FIELDS = {"upid", "node", "pid", "pstart", "starttime", "type", "id", "user", "status"}


async def _task(svc: Services, user: str, kind: str = "testjob") -> str:
    async def body(tlog: TaskLog) -> None:
        tlog.log("working")

    return await svc.tasks.start(kind, "", user, body)


async def test_lists_finished_and_running_tasks(svc: Services, root_api: httpx.AsyncClient) -> None:
    done = await _task(svc, "root@pam")
    await wait_task(root_api, done)
    gate = asyncio.Event()

    async def slow(tlog: TaskLog) -> None:
        await gate.wait()

    running = await svc.tasks.start("slowjob", "100", "root@pam", slow)
    r = await root_api.get("/api2/json/cluster/tasks")
    assert r.status_code == 200, r.text
    tasks = {t["upid"]: t for t in r.json()["data"]}
    assert set(tasks[done]) >= FIELDS and tasks[done]["status"] == "OK"
    assert "endtime" in tasks[done] and tasks[done]["node"] == NODE
    assert running in tasks and "endtime" not in tasks[running]
    gate.set()
    await wait_task(root_api, running)


async def test_users_see_their_own_tasks(
    svc: Services, root_api: httpx.AsyncClient, user_session: UserFactory
) -> None:
    alice = await user_session("alice@pve")
    auditor = await user_session("carol@pve", role="PVEAuditor", path="/")
    mine = await _task(svc, "alice@pve")
    token = await _task(svc, "alice@pve!ci")
    other = await _task(svc, "root@pam")
    for upid in (mine, token, other):
        await wait_task(root_api, upid)
    seen = {t["upid"]: t for t in (await alice.get("/cluster/tasks")).json()["data"]}
    assert set(seen) == {mine, token}
    assert seen[token]["user"] == "alice@pve" and seen[token]["tokenid"] == "ci"
    audited = {t["upid"] for t in (await auditor.get("/cluster/tasks")).json()["data"]}
    assert audited >= {mine, token, other}


def test_merge_task_lists() -> None:
    a = {"upid": "UPID:a:1", "starttime": 10, "node": "a"}
    b = {"upid": "UPID:b:1", "starttime": 20}
    merged = merge_task_lists({"a": [a, a], "b": [b]})
    assert [t["upid"] for t in merged] == ["UPID:b:1", "UPID:a:1"]
    assert merged[0]["node"] == "b"
