"""The QEMU runtime with a real device-less TCG QEMU: start, QMP, find, rediscover, stop.

Stock QEMU has no ``-id`` option (Proxmox patches it in), so these guests are recognised
by ``-pidfile <run_dir>/qemu-server/<vmid>.pid`` on their command line.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyxis.errors import PyxisError
from pyxis.guests.cgroups import Cgroups, CgroupSpec
from pyxis.guests.qemu import runtime
from pyxis.guests.qemu.qmp import Monitor
from pyxis.guests.qemu.runtime import RunPaths

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs QEMU"),
]

VMID = 9100


def qemu_argv(paths: RunPaths, *extra: str) -> list[str]:
    return [
        "qemu-system-x86_64",
        "-accel", "tcg", "-nodefaults", "-display", "none", "-S", "-m", "64",
        "-name", f"pyxis-test-{paths.vmid}",
        "-qmp", f"unix:{paths.qmp},server=on,wait=off",
        *extra,
    ]  # fmt: skip


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def run_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    # whatever a failing test left running
    for pid in runtime.list_running(tmp_path).values():
        os.kill(pid, signal.SIGKILL)


async def test_lifecycle(run_dir: Path) -> None:
    paths = RunPaths(run_dir, VMID)
    t0 = time.monotonic()
    pid = await runtime.start(VMID, qemu_argv(paths), paths)
    t_started = time.monotonic()
    async with Monitor(paths.qmp) as mon:
        assert await mon.query_status() == "prelaunch"
        t_ready = time.monotonic()
        await mon.cont()
        assert await mon.query_status() == "running"
        assert (await mon.query_version())["qemu"]["major"] >= 7
    print(
        f"\nstart {1000 * (t_started - t0):.0f} ms, "
        f"start -> QMP ready {1000 * (t_ready - t0):.0f} ms"
    )
    assert runtime.is_running(VMID, paths) == pid
    assert runtime.list_running(run_dir) == {VMID: pid}
    assert paths.pidfile.exists() and paths.qmp.exists() and paths.log.exists()

    # a second process (a restarted pyxisd) rediscovers the guest from the run dir alone
    code = (
        "import json, sys; from pathlib import Path; "
        "from pyxis.guests.qemu.runtime import list_running; "
        "print(json.dumps(list_running(Path(sys.argv[1]))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(run_dir)], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == {str(VMID): pid}

    stats = runtime.proc_stats(pid)
    assert stats is not None
    assert stats.rss > 0 and stats.threads >= 1 and stats.cpu_seconds >= 0
    assert 0 <= stats.uptime < 60

    t0 = time.monotonic()
    await runtime.stop(VMID, paths, timeout=10)
    print(f"stop (QMP quit) {1000 * (time.monotonic() - t0):.0f} ms")
    assert not _alive(pid)
    assert runtime.is_running(VMID, paths) is None
    assert runtime.list_running(run_dir) == {}
    assert not paths.pidfile.exists() and not paths.qmp.exists()
    await runtime.stop(VMID, paths)  # stopping a stopped guest is a no-op


async def test_already_running_and_recycled_pid(run_dir: Path) -> None:
    paths = RunPaths(run_dir, VMID + 1)
    pid = await runtime.start(paths.vmid, qemu_argv(paths), paths)
    try:
        with pytest.raises(PyxisError, match="already running"):
            await runtime.start(paths.vmid, qemu_argv(paths), paths)
    finally:
        await runtime.stop(paths.vmid, paths)
    # a pidfile naming a live process that is not this guest (a recycled pid)
    paths.pidfile.write_text(f"{os.getpid()}\n")
    assert runtime.is_running(paths.vmid, paths) is None
    assert runtime.list_running(run_dir) == {}
    assert not _alive(pid)


async def test_start_error_quotes_qemu(run_dir: Path) -> None:
    paths = RunPaths(run_dir, VMID + 2)
    with pytest.raises(PyxisError, match="invalid option") as exc:
        await runtime.start(paths.vmid, [*qemu_argv(paths), "-no-such-option"], paths)
    assert "exit code 1" in str(exc.value)
    assert runtime.is_running(paths.vmid, paths) is None


async def test_stop_without_qmp_uses_signals(run_dir: Path) -> None:
    paths = RunPaths(run_dir, VMID + 3)
    argv = [
        a for a in qemu_argv(paths) if a not in ("-qmp", f"unix:{paths.qmp},server=on,wait=off")
    ]
    pid = await runtime.start(paths.vmid, argv, paths)
    t0 = time.monotonic()
    await runtime.stop(paths.vmid, paths, timeout=5)
    assert time.monotonic() - t0 < 5  # SIGTERM was enough
    assert not _alive(pid)


async def test_cgroup_placement(run_dir: Path) -> None:
    cgroups = Cgroups(v1_parent=f"pyxis-test-{uuid.uuid4().hex[:8]}")
    if cgroups.layout() == "none" or os.geteuid() != 0:
        pytest.skip("no writable cgroup hierarchy")
    paths = RunPaths(run_dir, VMID + 4)
    spec = CgroupSpec("pyxis-systest-qemu-9104", memory_max_bytes=256 << 20, cpu_weight=100)
    pid = await runtime.start(paths.vmid, qemu_argv(paths), paths, cgroup=spec, cgroups=cgroups)
    try:
        for d in cgroups.paths(spec.name):
            assert str(pid) in (d / "cgroup.procs").read_text().split()
    finally:
        await runtime.stop(paths.vmid, paths, cgroup_name=spec.name, cgroups=cgroups)
        cgroups.remove_parent()
    assert not any(d.exists() for d in cgroups.paths(spec.name))


async def test_guest_survives_its_launcher(run_dir: Path) -> None:
    """QEMU started by a Python process keeps running after that process exits."""
    paths = RunPaths(run_dir, VMID + 5)
    code = (
        "import asyncio, json, sys; from pathlib import Path; "
        "from pyxis.guests.qemu import runtime; "
        "paths = runtime.RunPaths(Path(sys.argv[1]), int(sys.argv[2])); "
        "argv = json.loads(sys.argv[3]); "
        "pid = asyncio.run(runtime.start(paths.vmid, argv, paths)); "
        "print(pid)"
    )
    launcher = subprocess.Popen(
        [sys.executable, "-c", code, str(run_dir), str(paths.vmid), json.dumps(qemu_argv(paths))],
        stdout=subprocess.PIPE,
        text=True,
    )
    out, _ = launcher.communicate(timeout=30)
    assert launcher.returncode == 0
    pid = int(out.strip())
    await asyncio.sleep(0.2)
    try:
        assert _alive(pid)
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ppid, sid = int(fields[1]), int(fields[3])
        assert ppid != launcher.pid
        assert sid != os.getsid(0)  # a session of its own (-daemonize calls setsid)
        assert runtime.list_running(run_dir) == {paths.vmid: pid}
        async with Monitor(paths.qmp) as mon:
            assert await mon.query_status() == "prelaunch"
    finally:
        await runtime.stop(paths.vmid, paths)
    assert not _alive(pid)
