"""Benchmark: what pyxisd adds to a VM start, against launching the same argv by hand.

Starts a real ``pyxisd`` in a temporary root and creates a device-less VM (no disks, no
NIC, ``kvm: 0``, 64 MiB).  Each round measures three ways to get that guest to QMP
``running``, interleaved so that background load hits all alike:

- ``pyxisd``: ``POST .../status/start`` over the daemon's unix socket (as ``qm start``
  does), then QMP ``query-status`` polled on the VM's socket until ``running`` (the task
  is not watched: its bookkeeping after ``cont`` is not start latency);
- ``by hand``: the identical argv from ``GET .../showcmd`` (it carries ``-S``, since
  pyxisd starts paused and continues after placing the cgroup) run directly, then QMP
  ``cont`` as soon as the monitor answers, polled the same way;
- ``by hand, no -S``: the same argv without ``-S`` (the floor: QEMU's own start-up).

Each start is followed by a stop (API stop for pyxisd, QMP ``quit`` by hand) and a
wait until the process is gone.  QMP allows one client at a time, so the poller
connects, asks once and disconnects; pyxisd's own monitor connection may wait for
one poll (well under a millisecond).  Prints median and p95 of each, of the per-round
difference pyxisd - by hand, and the ratio of the medians; the target is a median
overhead under 100 ms.

Usage: ``.venv/bin/python bench/vm_start.py [ROUNDS]`` (default 20).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "support"))
sys.path.insert(0, str(REPO / "src"))

from daemon import Daemon  # noqa: E402

from pyxis.cli.client import LocalClient  # noqa: E402

VMID = 900
POLL = 0.001
TIMEOUT = 30.0


def qmp_exchange(path: Path, commands: list[str]) -> list[Any] | None:
    """Connect, negotiate, run ``commands``; their returns, or None if QMP is not up."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        return None
    with sock, sock.makefile("rwb") as f:

        def call(cmd: str) -> Any:
            f.write(json.dumps({"execute": cmd}).encode() + b"\n")
            f.flush()
            while True:
                line = f.readline()
                if not line:
                    raise ConnectionError("QMP closed")
                msg = json.loads(line)
                if "return" in msg or "error" in msg:
                    return msg.get("return", msg.get("error"))

        try:
            if not f.readline():  # greeting
                return None
            call("qmp_capabilities")
            return [call(c) for c in commands]
        except (OSError, ConnectionError):
            return None


def wait_running(qmp: Path, deadline: float, *, cont: bool = False) -> None:
    """Poll ``query-status`` until ``running``; with ``cont``, continue a paused guest."""
    while time.monotonic() < deadline:
        res = qmp_exchange(qmp, ["query-status"])
        if res is not None:
            status = res[0]["status"]
            if status == "running":
                return
            if cont and status in ("prelaunch", "paused"):
                qmp_exchange(qmp, ["cont"])
                continue
        time.sleep(POLL)
    raise TimeoutError("guest not running in time")


def wait_gone(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)


def run_daemon_start(client: LocalClient, qmp: Path) -> float:
    base = f"/nodes/{client.node}/qemu/{VMID}"
    t0 = time.perf_counter()
    upid = client.call("POST", f"{base}/status/start")
    wait_running(qmp, time.monotonic() + TIMEOUT)
    elapsed = time.perf_counter() - t0
    if client.wait_task(upid, echo=False) != "OK":
        raise RuntimeError(f"start task failed: {upid}")
    pid = client.call("GET", f"{base}/status/current")["pid"]
    if client.wait_task(client.call("POST", f"{base}/status/stop"), echo=False) != "OK":
        raise RuntimeError("stop task failed")
    wait_gone(pid)
    return elapsed


def run_by_hand(argv: list[str], qmp: Path, pidfile: Path) -> float:
    paused = "-S" in argv
    t0 = time.perf_counter()
    launcher = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)
    wait_running(qmp, time.monotonic() + TIMEOUT, cont=paused)
    elapsed = time.perf_counter() - t0
    launcher.wait(TIMEOUT)
    pid = int(pidfile.read_text().strip())
    qmp_exchange(qmp, ["quit"])
    wait_gone(pid)
    for leftover in (qmp, pidfile):
        leftover.unlink(missing_ok=True)
    return elapsed


def summary(name: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"{name:<22} median {statistics.median(ms):8.1f} ms   p95 {p95:8.1f} ms"


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    with tempfile.TemporaryDirectory(prefix="pyxis-bench-start-") as tmp:
        d = Daemon(Path(tmp) / "root", "bench1").start()
        try:
            client = LocalClient(str(d.root))
            node = client.node
            upid = client.call(
                "POST", f"/nodes/{node}/qemu", {"vmid": VMID, "kvm": 0, "memory": 64}
            )
            assert client.wait_task(upid, echo=False) == "OK"
            argv = client.call("GET", f"/nodes/{node}/qemu/{VMID}/showcmd")
            no_s = [a for a in argv if a != "-S"]
            run = d.root / "run/pyxis/qemu-server"
            qmp, pidfile = run / f"{VMID}.qmp", run / f"{VMID}.pid"
            print(f"argv ({len(argv)} items): {' '.join(argv[:6])} ...")
            # warm-up: the KVM probe result gets cached, page cache holds QEMU
            run_daemon_start(client, qmp)
            run_by_hand(argv, qmp, pidfile)
            ours, hand, floor = [], [], []
            for _ in range(rounds):
                ours.append(run_daemon_start(client, qmp))
                hand.append(run_by_hand(argv, qmp, pidfile))
                floor.append(run_by_hand(no_s, qmp, pidfile))
            diff = [a - b for a, b in zip(ours, hand, strict=True)]
            print(f"{rounds} rounds, device-less TCG guest (kvm: 0, memory 64)")
            print(summary("pyxisd start", ours))
            print(summary("by hand (same argv)", hand))
            print(summary("by hand, no -S", floor))
            print(summary("overhead pyxisd-hand", diff))
            ratio = statistics.median(ours) / statistics.median(hand)
            overhead = statistics.median(diff) * 1000
            verdict = "meets" if overhead < 100 else "MISSES"
            print(f"ratio pyxisd/hand (medians): {ratio:.2f}")
            print(f"median overhead {overhead:.1f} ms: {verdict} the < 100 ms target")
            client.wait_task(client.call("DELETE", f"/nodes/{node}/qemu/{VMID}"), echo=False)
        finally:
            d.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
