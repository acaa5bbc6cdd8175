"""The corosync link and the status bus against three real corosync daemons.

Reuses the three-namespace corosync cluster of ``test_corosync_bindings.py``.  In each
namespace this file runs as a script holding a :class:`CorosyncLink` joined to the
status group and a :class:`StatusBus` publishing a small report every 0.5 s; it prints
one JSON line per membership change or new report.  The test checks that every node
sees all three members and everyone's report; that a cut-off node is dropped by the
other two (which stay quorate) and sees itself alone and inquorate, within corosync's
token + consensus time; that a healed node comes back; that a killed daemon leaves the
group at once; and that a link whose corosync restarts reconnects by itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.system
SRC = str(Path(__file__).resolve().parents[2] / "src")


# --------------------------------------------------------------------------- helper side
async def _link_main(name: str) -> None:
    from pyxis.cluster.link import CorosyncLink
    from pyxis.cluster.statusbus import StatusBus

    class Tasks:
        def list(self, limit: int, source: str) -> tuple[list[dict[str, Any]], int]:
            return [], 0

    class Svc:
        node = name
        tasks = Tasks()

        def node_resources(self) -> list[dict[str, Any]]:
            return [{"id": f"node/{name}", "type": "node", "node": name, "status": "online"}]

        def guest_resources(self) -> list[dict[str, Any]]:
            return []

        async def storage_resources(self) -> list[dict[str, Any]]:
            return []

    link = CorosyncLink()

    class View:
        def __init__(self) -> None:
            self.link = link

        def name_of(self, nodeid: int) -> str:
            return f"node{nodeid}"

        def is_online(self, node: str) -> bool:
            return int(node[4:]) in link.members

    bus = StatusBus(Svc(), View(), interval=0.5)  # type: ignore[arg-type]

    def emit(event: str) -> None:
        doc = {
            "event": event,
            "t": time.time(),
            "connected": link.connected,
            "members": sorted(link.members),
            "quorate": link.quorate,
            "reports": sorted(bus.reports),
        }
        print(json.dumps(doc), flush=True)

    def on_message(nodeid: int, data: bytes) -> None:
        known = set(bus.reports)
        bus.receive(nodeid, data)
        if set(bus.reports) != known:
            emit("report")

    def on_change() -> None:
        bus.membership_changed()
        emit("change")

    link.on_message, link.on_change = on_message, on_change
    await link.start()
    await bus.start()
    await asyncio.Event().wait()


# --------------------------------------------------------------------------- test side
class Helper:
    """One helper process and the JSON lines it printed."""

    def __init__(self, ns: str, log: Path) -> None:
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, __file__, ns[-1]],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
            env={**os.environ, "PYTHONPATH": SRC},
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.last: dict[str, Any] = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def wait(self, pred: Callable[[dict[str, Any]], bool], timeout: float) -> float:
        """Wait for a state satisfying ``pred``; return when it was printed (wall clock)."""
        deadline = time.monotonic() + timeout
        if self.last and pred(self.last):
            return float(self.last["t"])
        while time.monotonic() < deadline:
            try:
                self.last = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if pred(self.last):
                return float(self.last["t"])
        raise AssertionError(f"state not reached in {timeout}s; last {self.last}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.close()


def _members(*ids: int, quorate: bool = True) -> Callable[[dict[str, Any]], bool]:
    return lambda s: s["members"] == list(ids) and s["quorate"] is quorate


def test_link_membership_reports_partition_kill_and_reconnect(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root and corosync")
    from test_corosync_bindings import Cluster

    cluster = Cluster(tmp_path)
    helpers: list[Helper] = []
    try:
        cluster.setup()
        cluster.wait_quorum({i: (True, 3) for i in range(3)}, timeout=20)
        helpers = [Helper(ns, tmp_path / f"link{i}.log") for i, ns in enumerate(cluster.ns)]
        for h in helpers:
            h.wait(_members(1, 2, 3), 20)
            h.wait(lambda s: s["reports"] == ["node1", "node2", "node3"], 10)

        token = (
            float(
                cluster.ns_run(
                    0, "corosync-cmapctl", "-g", "runtime.config.totem.token"
                ).stdout.rsplit("=", 1)[1]
            )
            / 1000
        )
        t0 = time.time()
        cluster.link(2, up=False)
        seen = [helpers[i].wait(_members(1, 2), token * 4 + 5) - t0 for i in (0, 1)]
        alone = helpers[2].wait(_members(3, quorate=False), token * 4 + 5) - t0
        print(f"token {token:.2f}s; partition seen after {seen} (others) / {alone:.2f}s (lone)")
        assert max(seen) < token * 2.2 + 1.5

        cluster.link(2, up=True)
        # knet re-probes a link that was down with back-off: the merge took over 30 s
        # once in a loaded full run (the partition timing above is what is measured)
        for h in helpers:
            h.wait(_members(1, 2, 3), 60)

        t1 = time.time()
        helpers[2].stop()  # the daemon dies: its CPG membership ends at once
        gone = max(helpers[i].wait(_members(1, 2), 5) for i in (0, 1)) - t1
        assert gone < 1.0, gone

        # corosync on node1 restarts: the link notices, backs off, reconnects
        old = cluster.procs[0]
        old.terminate()
        old.wait(10)
        helpers[0].wait(lambda s: not s["connected"], 10)
        cluster.procs[0] = subprocess.Popen(
            old.args, stdout=cluster.logs[0], stderr=subprocess.STDOUT
        )
        helpers[0].wait(lambda s: s["connected"] and s["members"] == [1, 2], 30)
    finally:
        for h in helpers:
            h.stop()
        cluster.close()


if __name__ == "__main__":
    asyncio.run(_link_main(f"node{sys.argv[1]}"))
