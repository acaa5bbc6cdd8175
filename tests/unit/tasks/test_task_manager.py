"""TaskManager: task endings, log paging, listing filters, stop, restart recovery."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from pyxis.errors import NotFound, ParamError, PyxisError
from pyxis.tasks.manager import TaskLog, TaskManager, read_pstart
from pyxis.tasks.upid import UPID, log_path


class Clock:
    def __init__(self, now: int = 1_700_000_000) -> None:
        self.now = now

    def __call__(self) -> float:
        return float(self.now)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def mgr(tmp_path: Path, clock: Clock) -> TaskManager:
    return TaskManager("pve1", tmp_path / "tasks", clock=clock)


def lines_of(*lines: str, warn: tuple[str, ...] = ()) -> Callable[[TaskLog], Awaitable[None]]:
    async def fn(log: TaskLog) -> None:
        for line in lines:
            log.log(line)
        for w in warn:
            log.warn(w)

    return fn


def fails(err: BaseException) -> Callable[[TaskLog], Awaitable[None]]:
    async def fn(log: TaskLog) -> None:
        log.log("working")
        raise err

    return fn


def blocks(gate: asyncio.Event) -> Callable[[TaskLog], Awaitable[None]]:
    async def fn(log: TaskLog) -> None:
        log.log("waiting")
        await gate.wait()
        log.log("released")

    return fn


def log_text(mgr: TaskManager, upid: str) -> list[str]:
    return log_path(mgr.task_dir, upid).read_text().splitlines()


ENDINGS = [
    {
        "description": "ok",
        "fn": lines_of("a", "b"),
        "exitstatus": "OK",
        "log": ["a", "b", "TASK OK"],
    },
    {
        "description": "warnings",
        "fn": lines_of("a", warn=("w1", "w2")),
        "exitstatus": "WARNINGS: 2",
        "log": ["a", "WARN: w1", "WARN: w2", "TASK WARNINGS: 2"],
    },
    {
        "description": "error keeps one line",
        "fn": fails(RuntimeError("disk gone\n  badly")),
        "exitstatus": "disk gone badly",
        "log": ["working", "TASK ERROR: disk gone badly"],
    },
    {
        "description": "pyxis error",
        "fn": fails(PyxisError("storage 'x' does not exist")),
        "exitstatus": "storage 'x' does not exist",
        "log": ["working", "TASK ERROR: storage 'x' does not exist"],
    },
    {
        "description": "error without message",
        "fn": fails(KeyError()),
        "exitstatus": "KeyError",
        "log": ["working", "TASK ERROR: KeyError"],
    },
]


@pytest.mark.parametrize("case", ENDINGS, ids=lambda c: c["description"])
async def test_endings(mgr: TaskManager, clock: Clock, case: dict[str, Any]) -> None:
    upid = await mgr.start("qmstart", "100", "root@pam", case["fn"])
    clock.now += 5
    assert await mgr.wait(upid) == case["exitstatus"]
    assert log_text(mgr, upid) == case["log"]
    st = mgr.status(upid)
    assert st == {
        **UPID.parse(upid).to_dict(),
        "status": "stopped",
        "exitstatus": case["exitstatus"],
    }
    assert mgr.active_file.read_text() == ""
    u = UPID.parse(upid)
    assert mgr.index_file.read_text() == f"{upid} {u.starttime + 5:08X} {case['exitstatus']}\n"


async def test_upid_fields(mgr: TaskManager, clock: Clock) -> None:
    upid = await mgr.start("vzdump", "", "alice@pve", lines_of())
    u = UPID.parse(upid)
    assert (u.node, u.pid, u.starttime, u.type, u.id, u.user) == (
        "pve1",
        os.getpid(),
        clock.now,
        "vzdump",
        "",
        "alice@pve",
    )
    assert u.pstart == read_pstart(os.getpid())
    await mgr.wait(upid)


async def test_same_second_gets_distinct_upid(mgr: TaskManager) -> None:
    a = await mgr.start("qmstart", "100", "root@pam", lines_of())
    b = await mgr.start("qmstart", "100", "root@pam", lines_of())
    assert a != b
    assert UPID.parse(b).starttime == UPID.parse(a).starttime + 1
    assert await mgr.wait(a) == await mgr.wait(b) == "OK"


async def test_running_status_and_active_file(mgr: TaskManager) -> None:
    gate = asyncio.Event()
    upid = await mgr.start("qmstart", "100", "root@pam", blocks(gate))
    await asyncio.sleep(0)
    assert mgr.status(upid)["status"] == "running"
    assert "exitstatus" not in mgr.status(upid)
    assert mgr.active_file.read_text() == f"{upid}\n"
    # Live readers see progress before the task ends.
    assert mgr.read_log(upid) == ([{"n": 1, "t": "waiting"}], 1)
    items, total = mgr.list(source="active")
    assert total == 1
    assert items[0]["upid"] == upid and items[0]["status"] == "RUNNING"
    assert "endtime" not in items[0]
    gate.set()
    assert await mgr.wait(upid) == "OK"
    assert mgr.list(source="active") == ([], 0)


async def test_read_log_paging(mgr: TaskManager) -> None:
    upid = await mgr.start("t", "", "u@pam", lines_of(*(f"line {i}" for i in range(1, 121))))
    await mgr.wait(upid)
    page, total = mgr.read_log(upid)
    assert total == 121
    assert [x["n"] for x in page] == list(range(1, 51))
    assert page[0] == {"n": 1, "t": "line 1"}
    page, _ = mgr.read_log(upid, start=100, limit=50)
    assert [x["n"] for x in page] == list(range(101, 122))
    assert page[-1] == {"n": 121, "t": "TASK OK"}
    page, _ = mgr.read_log(upid, start=0, limit=0)
    assert len(page) == 121
    assert mgr.read_log(upid, start=500) == ([], 121)
    assert mgr.log_file(upid) == log_path(mgr.task_dir, upid)


async def test_read_log_empty_and_multiline(mgr: TaskManager) -> None:
    gate = asyncio.Event()

    async def fn(log: TaskLog) -> None:
        await gate.wait()
        log.log("one\ntwo")

    upid = await mgr.start("t", "", "u@pam", fn)
    assert mgr.read_log(upid) == ([{"n": 1, "t": "no content"}], 1)
    gate.set()
    await mgr.wait(upid)
    assert log_text(mgr, upid) == ["one", "two", "TASK OK"]


@pytest.mark.parametrize("call", ["status", "read_log", "log_file"])
def test_unknown_and_bad_upid(mgr: TaskManager, call: str) -> None:
    unknown = str(UPID("pve1", 1, 1, 1, "t", "", "u@pam"))
    with pytest.raises(NotFound):
        getattr(mgr, call)(unknown)
    with pytest.raises(ParamError):
        getattr(mgr, call)("UPID:garbage")


async def make_history(mgr: TaskManager, clock: Clock) -> dict[str, str]:
    specs = [
        ("a", "qmstart", "100", "root@pam", lines_of()),
        ("b", "qmstop", "100", "alice@pve", lines_of(warn=("w",))),
        ("c", "qmstart", "101", "Alice@PVE", fails(RuntimeError("no"))),
        ("d", "vzdump", "", "root@pam", lines_of()),
        ("e", "qmstart", "1000", "bob@pve", lines_of()),
    ]
    out = {}
    for name, type_, id_, user, fn in specs:
        out[name] = await mgr.start(type_, id_, user, fn)
        await mgr.wait(out[name])
        clock.now += 10
    return out


LIST_CASES = [
    {"description": "all newest first", "args": {}, "expected": "edcba"},
    {"description": "vmid exact", "args": {"vmid": 100}, "expected": "ba"},
    {"description": "typefilter exact", "args": {"typefilter": "qmstart"}, "expected": "eca"},
    {"description": "typefilter no substring", "args": {"typefilter": "qm"}, "expected": ""},
    {
        "description": "userfilter icase substring",
        "args": {"userfilter": "alice"},
        "expected": "cb",
    },
    {"description": "statusfilter", "args": {"statusfilter": "ok,warning"}, "expected": "edba"},
    {
        "description": "statusfilter list",
        "args": {"statusfilter": ["ok", "error"]},
        "expected": "edca",
    },
    {"description": "statusfilter error", "args": {"statusfilter": "Error"}, "expected": "c"},
    {"description": "errors drops ok", "args": {"errors": True}, "expected": "cb"},
    {
        "description": "errors overrides statusfilter",
        "args": {"errors": True, "statusfilter": "ok"},
        "expected": "cb",
    },
    {"description": "since", "args": {"since": 1_700_000_020}, "expected": "edc"},
    {"description": "until", "args": {"until": 1_700_000_010}, "expected": "ba"},
    {"description": "paging", "args": {"start": 1, "limit": 2}, "expected": "dc"},
    {"description": "limit 0", "args": {"limit": 0}, "expected": ""},
    {"description": "active source", "args": {"source": "active"}, "expected": ""},
]


@pytest.mark.parametrize("case", LIST_CASES, ids=lambda c: c["description"])
async def test_list_filters(mgr: TaskManager, clock: Clock, case: dict[str, Any]) -> None:
    names = await make_history(mgr, clock)
    by_upid = {v: k for k, v in names.items()}
    items, total = mgr.list(**case["args"])
    assert "".join(by_upid[str(i["upid"])] for i in items) == case["expected"]
    if "start" not in case["args"] and "limit" not in case["args"]:
        assert total == len(str(case["expected"]))


async def test_list_total_counts_beyond_page(mgr: TaskManager, clock: Clock) -> None:
    await make_history(mgr, clock)
    items, total = mgr.list(start=1, limit=2)
    assert (len(items), total) == (2, 5)


async def test_list_item_shape(mgr: TaskManager, clock: Clock) -> None:
    names = await make_history(mgr, clock)
    items, _ = mgr.list(vmid=101)
    u = UPID.parse(names["c"])
    assert items == [{**u.to_dict(), "endtime": u.starttime, "status": "no"}]


async def test_list_all_puts_running_first(mgr: TaskManager, clock: Clock) -> None:
    await make_history(mgr, clock)
    gate = asyncio.Event()
    run = await mgr.start("qmigrate", "100", "root@pam", blocks(gate))
    items, total = mgr.list(source="all")
    assert total == 6 and items[0]["upid"] == run
    gate.set()
    await mgr.wait(run)


@pytest.mark.parametrize(
    ("args", "param"), [({"source": "x"}, "source"), ({"statusfilter": "ok,bad"}, "statusfilter")]
)
def test_list_rejects(mgr: TaskManager, args: dict[str, Any], param: str) -> None:
    with pytest.raises(ParamError) as exc:
        mgr.list(**args)
    assert list(exc.value.errors) == [param]


async def test_stop_interrupts(mgr: TaskManager) -> None:
    upid = await mgr.start("qmstart", "100", "root@pam", blocks(asyncio.Event()))
    await asyncio.sleep(0)
    await mgr.stop(upid)
    assert not mgr.is_running(upid)
    assert mgr.status(upid)["exitstatus"] == "received interrupt"
    assert log_text(mgr, upid) == ["waiting", "TASK ERROR: received interrupt"]
    assert mgr.active_file.read_text() == ""
    await mgr.stop(upid)  # already stopped: no-op


async def test_stop_before_first_step(mgr: TaskManager) -> None:
    upid = await mgr.start("qmstart", "100", "root@pam", blocks(asyncio.Event()))
    await mgr.stop(upid)  # cancelled before the coroutine ever ran
    assert await mgr.wait(upid) == "received interrupt"
    assert log_text(mgr, upid) == ["TASK ERROR: received interrupt"]
    assert mgr.active_file.read_text() == ""


async def test_stop_unknown(mgr: TaskManager) -> None:
    with pytest.raises(NotFound):
        await mgr.stop(str(UPID("pve1", 1, 1, 1, "t", "", "u@pam")))


async def test_task_survives_cancelled_caller(mgr: TaskManager) -> None:
    gate = asyncio.Event()
    started: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def request_handler() -> None:
        upid = await mgr.start("qmstart", "100", "root@pam", blocks(gate))
        started.set_result(upid)
        await mgr.wait(upid)

    caller = asyncio.create_task(request_handler())
    upid = await started
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert mgr.status(upid)["status"] == "running"
    gate.set()
    assert await mgr.wait(upid) == "OK"
    assert log_text(mgr, upid)[-2:] == ["released", "TASK OK"]


def write_log(mgr: TaskManager, upid: UPID, *lines: str) -> None:
    path = log_path(mgr.task_dir, upid)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{ln}\n" for ln in lines))


async def test_recover_after_crash(mgr: TaskManager, clock: Clock) -> None:
    me = os.getpid()
    dead_pstart = (read_pstart(me) or 0) + 1  # same pid, other process lifetime: dead
    parent, parent_pstart = os.getppid(), read_pstart(os.getppid())
    assert parent_pstart is not None

    cut = UPID("pve1", me, dead_pstart, 100, "qmstart", "100", "root@pam")
    done = UPID("pve1", me, dead_pstart, 101, "qmstop", "100", "root@pam")
    saved = UPID("pve1", me, dead_pstart, 102, "vzdump", "", "root@pam")
    no_log = UPID("pve1", 0x7FFFFFF0, 5, 103, "t", "", "root@pam")
    alive = UPID("pve1", parent, parent_pstart, 104, "t", "", "root@pam")
    write_log(mgr, cut, "copying")
    write_log(mgr, done, "x", "TASK OK")
    write_log(mgr, saved, "TASK WARNINGS: 1")
    write_log(mgr, alive, "busy")
    mgr.task_dir.mkdir(parents=True, exist_ok=True)
    mgr.index_file.write_text(f"{saved} 00000070 WARNINGS: 1\n")
    mgr.active_file.write_text("".join(f"{u}\n" for u in (cut, done, saved, no_log, alive)))

    recovered = mgr.recover()
    assert recovered == [str(u) for u in (cut, done, saved, no_log)]
    assert mgr.active_file.read_text() == f"{alive}\n"
    rows = {str(e["upid"]): e["status"] for e in mgr.list()[0]}
    assert rows == {
        str(cut): "unexpected status",
        str(done): "OK",
        str(saved): "WARNINGS: 1",
        str(no_log): "unexpected status",
    }
    assert mgr.status(str(cut)) == {
        **cut.to_dict(),
        "status": "stopped",
        "exitstatus": "unexpected status",
    }
    assert mgr.status(str(alive))["status"] == "running"
    assert mgr.recover() == []


async def test_recover_keeps_own_running_tasks(mgr: TaskManager) -> None:
    gate = asyncio.Event()
    upid = await mgr.start("t", "", "u@pam", blocks(gate))
    assert mgr.recover() == []
    assert mgr.active_file.read_text() == f"{upid}\n"
    gate.set()
    await mgr.wait(upid)


async def test_new_tasks_keep_foreign_active_lines(mgr: TaskManager) -> None:
    ghost = UPID("pve1", 0x7FFFFFF0, 5, 100, "t", "", "root@pam")
    mgr.task_dir.mkdir(parents=True)
    mgr.active_file.write_text(f"{ghost}\n")
    upid = await mgr.start("t", "", "u@pam", lines_of())
    assert mgr.active_file.read_text() == f"{ghost}\n{upid}\n"
    await mgr.wait(upid)
    assert mgr.active_file.read_text() == f"{ghost}\n"
    assert mgr.recover() == [str(ghost)]
