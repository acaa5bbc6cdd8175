"""Benchmark: VM churn over the HTTPS API (create + start + stop + destroy), 5 at a time.

Starts a real ``pyxisd`` in a temporary root, makes an Administrator with ``pveum``
and drives 50 VM life cycles from 5 worker threads, each with its own proxmoxer
session (ticket auth over HTTPS, as an automation tool would).  A cycle is: create
(device-less, ``kvm: 0``, 64 MiB), start, stop, destroy, each a task followed to its
end by polling its status every 50 ms, as proxmoxer users do.  Prints VMs per minute
and the median/p95 of each phase.

Usage: ``.venv/bin/python bench/vm_create.py [COUNT] [PARALLEL]`` (default 50 and 5).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "support"))

from daemon import Daemon  # noqa: E402
from proxmoxer import ProxmoxAPI  # noqa: E402
from proxmoxer.tools import Tasks  # noqa: E402

USER, PASSWORD = "bench@pve", "bench-pass-1234"
FIRST_VMID = 1000
PHASES = ("create", "start", "stop", "destroy")


def wait_task(px: ProxmoxAPI, upid: str, timeout: float = 60.0) -> None:
    node = Tasks.decode_upid(upid)["node"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: dict[str, Any] = px.nodes(node).tasks(upid).status.get()
        if status["status"] == "stopped":
            if status.get("exitstatus") != "OK":
                log = px.nodes(node).tasks(upid).log.get(limit=0)
                raise RuntimeError(f"{upid}: {status.get('exitstatus')}: {log}")
            return
        time.sleep(0.05)
    raise TimeoutError(upid)


def cycle(px: ProxmoxAPI, node: str, vmid: int, times: dict[str, list[float]]) -> None:
    vm = px.nodes(node).qemu(vmid)
    steps = {
        "create": lambda: px.nodes(node).qemu.post(vmid=vmid, kvm=0, memory=64),
        "start": lambda: vm.status.start.post(),
        "stop": lambda: vm.status.stop.post(),
        "destroy": lambda: vm.delete(),
    }
    for phase in PHASES:
        t0 = time.perf_counter()
        wait_task(px, steps[phase]())
        times[phase].append(time.perf_counter() - t0)


def pct(values: list[float], q: float) -> float:
    ms = sorted(v * 1000 for v in values)
    return ms[min(len(ms) - 1, round(q * (len(ms) - 1)))]


def main() -> int:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    parallel = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    warnings.filterwarnings("ignore", message="Unverified HTTPS request")
    with tempfile.TemporaryDirectory(prefix="pyxis-bench-create-") as tmp:
        d = Daemon(Path(tmp) / "root", "bench1").start()
        try:
            d.add_admin(USER, PASSWORD)
            todo = list(range(FIRST_VMID, FIRST_VMID + count))
            lock = threading.Lock()
            times: dict[str, list[float]] = defaultdict(list)
            errors: list[str] = []

            def worker() -> None:
                px = ProxmoxAPI(
                    d.host, port=d.port, user=USER, password=PASSWORD,
                    backend="https", verify_ssl=False, timeout=60,
                )  # fmt: skip
                while True:
                    with lock:
                        if not todo:
                            return
                        vmid = todo.pop(0)
                    try:
                        cycle(px, d.node, vmid, times)
                    except Exception as err:
                        errors.append(f"VM {vmid}: {err}")

            threads = [threading.Thread(target=worker) for _ in range(parallel)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - t0
            done = len(times["destroy"])
            print(f"{done}/{count} VM cycles (create+start+stop+destroy), {parallel} in parallel")
            print(f"elapsed {elapsed:.1f} s: {done / elapsed * 60:.1f} VMs per minute")
            for phase in PHASES:
                if times[phase]:
                    med = statistics.median(times[phase]) * 1000
                    print(
                        f"  {phase:<8} median {med:7.1f} ms   p95 {pct(times[phase], 0.95):7.1f} ms"
                    )
            for line in errors[:10]:
                print("error:", line)
            left = [p.name for p in (d.root / "var/lib/pyxis").glob("**/qemu-server/*.conf")]
            print(f"leftover configs on disk: {len(left)}")
            return 1 if errors else 0
        finally:
            d.stop()


if __name__ == "__main__":
    sys.exit(main())
