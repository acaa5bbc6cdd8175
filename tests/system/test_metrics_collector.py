"""The status collector inside a real ``pyxisd``: graphs fill while the daemon runs and
the history survives a restart.

``PYXIS_STATS_INTERVAL=1`` makes the daemon sample every second instead of every 10.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from daemon import Daemon, DaemonFactory

from pyxis.cli.client import LocalClient
from pyxis.guests.qemu import runtime

pytestmark = pytest.mark.system
WAIT = 15.0


def wait_for_row(
    client: LocalClient, path: str, keys: set[str], positive: str | None = None
) -> dict[str, Any]:
    """Poll ``path`` (hour) until its newest row has ``keys`` (and ``positive`` > 0)."""
    deadline = time.monotonic() + WAIT
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        data = client.call("GET", path, {"timeframe": "hour"})
        assert len(data) == 70
        last = data[-1]
        if keys <= set(last) and (positive is None or last[positive] > 0):
            return last
        time.sleep(0.3)
    raise AssertionError(f"{path}: newest row {last} never had {sorted(keys)}")


@pytest.fixture
def fast_daemon(daemons: DaemonFactory, monkeypatch: pytest.MonkeyPatch) -> Daemon:
    monkeypatch.setenv("PYXIS_STATS_INTERVAL", "1")
    return daemons.start()


def test_node_and_storage_graphs_fill_within_seconds(fast_daemon: Daemon) -> None:
    client = LocalClient(str(fast_daemon.root))
    node = fast_daemon.node
    row = wait_for_row(client, f"/nodes/{node}/rrddata", {"cpu", "memused", "memtotal"})
    assert 0 <= row["cpu"] <= 1
    assert 0 < row["memused"] <= row["memtotal"]
    assert row["maxcpu"] >= 1 and row["roottotal"] >= row["rootused"] > 0
    assert abs(row["time"] - time.time()) < 120
    local = wait_for_row(client, f"/nodes/{node}/storage/local/rrddata", {"total", "used"})
    assert 0 < local["used"] <= local["total"]


def test_history_survives_a_restart(fast_daemon: Daemon) -> None:
    client = LocalClient(str(fast_daemon.root))
    path = f"/nodes/{fast_daemon.node}/rrddata"
    before = wait_for_row(client, path, {"memused"})
    fast_daemon.stop()  # SIGTERM: the collector saves every file, the open minute included
    saved = fast_daemon.root / "var/lib/pyxis/rrd/node" / fast_daemon.node
    assert saved.is_file()
    fast_daemon.start()
    rows = {r["time"]: r for r in client.call("GET", path, {"timeframe": "hour"})}
    assert "memused" in rows[before["time"]]


VMID = 9400


def wait_task(client: LocalClient, node: str, upid: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = client.call("GET", f"/nodes/{node}/tasks/{upid}/status")
        if st["status"] == "stopped":
            return str(st["exitstatus"])
        time.sleep(0.1)
    raise AssertionError(f"task {upid} still running")


@pytest.fixture
def vm_node(monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("needs QEMU")
    monkeypatch.setenv("PYXIS_STATS_INTERVAL", "1")
    # a short root: QEMU's unix sockets live below it and paths are limited to 107 bytes
    base = Path(tempfile.mkdtemp(prefix="pyxrrd", dir="/tmp"))
    d = Daemon(base / "n1")
    try:
        yield d.start()
        assert "Traceback" not in d.output(), d.output()
    finally:
        d.stop()
        for pid in runtime.list_running(d.root / "run/pyxis").values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)


def test_running_vm_is_graphed_and_listed_with_io(vm_node: Daemon) -> None:
    client = LocalClient(str(vm_node.root))
    node = vm_node.node
    vm = f"/nodes/{node}/qemu/{VMID}"
    params = {"vmid": VMID, "kvm": 0, "memory": 128, "virtio0": "local:1", "boot": "order=virtio0"}
    if Path("/sys/class/net/vmbr0/bridge").is_dir():
        params["net0"] = "virtio,bridge=vmbr0"
    assert wait_task(client, node, client.call("POST", f"/nodes/{node}/qemu", params)) == "OK"
    assert wait_task(client, node, client.call("POST", f"{vm}/status/start")) == "OK"
    try:
        # the row of the minute also averages the samples from before the start
        keys = {"cpu", "mem", "diskread", "diskwrite", "netin", "netout"}
        row = wait_for_row(client, f"{vm}/rrddata", keys, positive="mem")
        assert 0 <= row["cpu"] <= 1, row
        assert row["maxmem"] == 128 * 1024 * 1024 and row["maxdisk"] == 1 << 30
        # SeaBIOS reads the (empty) boot disk: QMP blockstats count the bytes
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            (listed,) = [v for v in client.call("GET", f"/nodes/{node}/qemu") if v["vmid"] == VMID]
            if listed["diskread"] > 0:
                break
            time.sleep(0.3)
        assert listed["status"] == "running" and listed["diskread"] > 0, listed
        current = client.call("GET", f"{vm}/status/current")
        assert current["diskread"] >= listed["diskread"]  # fresh from QMP, not doubled
        assert current["diskread"] < 2 * listed["diskread"] + (1 << 20)
    finally:
        wait_task(client, node, client.call("POST", f"{vm}/status/stop"))
