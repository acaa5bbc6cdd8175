"""Guest agent API helpers: exec command lines, exec-status shape, preconditions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pyxis.errors import ParamError, PyxisError
from pyxis.guests.qemu import agent_ops
from pyxis.guests.qemu.agent import ExecStatus
from pyxis.guests.qemu.config import VmConfig

ARGV_CASES: list[tuple[Any, list[str]]] = [
    (["ls", "-l", "/"], ["ls", "-l", "/"]),
    ("uname", ["uname"]),
    (["ls -l '/a b'"], ["ls", "-l", "/a b"]),
    ("cat /proc/partitions", ["cat", "/proc/partitions"]),
    (["sh", "-c", "echo a b"], ["sh", "-c", "echo a b"]),
]


@pytest.mark.parametrize(("command", "expected"), ARGV_CASES)
def test_exec_argv(command: Any, expected: list[str]) -> None:
    assert agent_ops.exec_argv(command) == expected


@pytest.mark.parametrize("command", [[], [""], ["echo 'unterminated"]])
def test_exec_argv_errors(command: list[str]) -> None:
    with pytest.raises(ParamError):
        agent_ops.exec_argv(command)


STATUS_CASES = [
    (ExecStatus(exited=False), {"exited": 0}),
    (
        ExecStatus(exited=True, exitcode=3, out_data=b"hi\n", err_data=b"oops"),
        {"exited": 1, "exitcode": 3, "out-data": "hi\n", "err-data": "oops"},
    ),
    (
        ExecStatus(exited=True, signal=9, out_truncated=True),
        {"exited": 1, "signal": 9, "out-truncated": 1},
    ),
]


@pytest.mark.parametrize(("status", "expected"), STATUS_CASES)
def test_exec_status_view(status: ExecStatus, expected: dict[str, Any]) -> None:
    assert agent_ops.exec_status_view(status) == expected


@pytest.mark.parametrize(
    ("value", "enabled"),
    [(None, False), ("0", False), ("1", True), ("enabled=1,fstrim_cloned_disks=1", True),
     ("enabled=0,type=isa", False)],
)  # fmt: skip
def test_agent_enabled(value: str | None, enabled: bool) -> None:
    conf = {} if value is None else {"agent": value}
    assert agent_ops.agent_enabled(conf) is enabled


class FakeQemu:
    """Just what ``agent_for`` asks of ``QemuService``."""

    def __init__(self, conf: dict[str, str], pid: int | None) -> None:
        self.cfg = VmConfig(main=conf)
        self._pid = pid

    def load(self, vmid: int) -> tuple[VmConfig, str]:
        return self.cfg, "digest"

    def pid(self, vmid: int) -> int | None:
        return self._pid

    def run_paths(self, vmid: int) -> Any:
        class Paths:
            qga = Path(f"/nonexistent/{vmid}.qga")

        return Paths()


@pytest.mark.parametrize(
    ("conf", "pid", "message"),
    [
        ({}, 1, "No QEMU guest agent configured"),
        ({"agent": "1"}, None, "VM 100 is not running"),
    ],
)
def test_agent_for_preconditions(conf: dict[str, str], pid: int | None, message: str) -> None:
    with pytest.raises(PyxisError, match=message):
        agent_ops.agent_for(FakeQemu(conf, pid), 100)  # type: ignore[arg-type]


async def test_agent_not_running() -> None:
    with pytest.raises(PyxisError, match="QEMU guest agent is not running"):
        await agent_ops.simple(FakeQemu({"agent": "1"}, 1), 100, "ping")  # type: ignore[arg-type]
