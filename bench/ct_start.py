"""Benchmark: what pyxisd adds to a container start, against ``lxc-start`` by hand.

Starts a real ``pyxisd`` in a temporary root, builds the busybox template through the
node's own ``aplinfo`` download and creates a container from it (root file system a
``dir`` subvolume, 64 MiB, no NIC).  Each round measures, interleaved:

- ``pyxisd``: ``POST .../status/start`` over the daemon's unix socket (as ``pct start``
  does), until the container's init process is in its cgroup (polled every 1 ms; the
  task's bookkeeping after ``lxc-start`` returns is not start latency).  This includes
  folding pending changes, mounting the root, writing the setup files and rendering the
  LXC config;
- ``by hand``: the root bind-mounted in advance (not timed) and the LXC config pyxisd
  rendered, then ``lxc-start -n VMID -P LXCPATH -d`` until the same condition.

Each start is followed by a stop (API stop / ``lxc-stop -k``).  Prints median and p95
of both, of the per-round difference and the verdict against the < 150 ms target.

Usage: ``.venv/bin/python bench/ct_start.py [ROUNDS]`` (default 20).  Needs root and LXC.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "support"))
sys.path.insert(0, str(REPO / "src"))

from daemon import Daemon  # noqa: E402

from pyxis.cli.client import LocalClient  # noqa: E402
from pyxis.guests.lxc.runtime import fast_info  # noqa: E402

VMID = 950
TEMPLATE = "busybox-1.35-pyxis_1.0-1_amd64.tar.zst"
POLL = 0.001
TIMEOUT = 30.0


def wait_init(cgroup: str, running: bool = True) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if (fast_info(cgroup).pid is not None) == running:
            return
        time.sleep(POLL)
    raise TimeoutError("container did not reach the state in time")


def ok(client: LocalClient, upid: str) -> None:
    if client.wait_task(upid, echo=False) != "OK":
        raise RuntimeError(f"task failed: {upid}")


def run_daemon(client: LocalClient, cgroup: str) -> float:
    base = f"/nodes/{client.node}/lxc/{VMID}/status"
    t0 = time.perf_counter()
    upid = client.call("POST", f"{base}/start")
    wait_init(cgroup)
    elapsed = time.perf_counter() - t0
    ok(client, upid)
    ok(client, client.call("POST", f"{base}/stop"))
    wait_init(cgroup, running=False)
    return elapsed


def run_by_hand(lxcpath: Path, config: str, volume: Path, cgroup: str) -> float:
    ct = lxcpath / str(VMID)
    (ct / "config").write_text(config)
    subprocess.run(["mount", "--bind", str(volume), str(ct / "rootfs")], check=True)
    try:
        t0 = time.perf_counter()
        subprocess.run(["lxc-start", "-n", str(VMID), "-P", str(lxcpath), "-d"], check=True)
        wait_init(cgroup)
        elapsed = time.perf_counter() - t0
        subprocess.run(["lxc-stop", "-n", str(VMID), "-P", str(lxcpath), "-k"], check=True)
        wait_init(cgroup, running=False)
    finally:
        subprocess.run(["umount", str(ct / "rootfs")], check=False)
    return elapsed


def summary(name: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"{name:<22} median {statistics.median(ms):8.1f} ms   p95 {p95:8.1f} ms"


def main() -> int:
    if os.geteuid() != 0:
        print("ct_start: needs root (containers)", file=sys.stderr)
        return 1
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    with tempfile.TemporaryDirectory(prefix="pyxis-bench-ct-") as tmp:
        d = Daemon(Path(tmp) / "root", "bench1").start()
        try:
            client = LocalClient(str(d.root))
            node = client.node
            ok(client, client.call("POST", f"/nodes/{node}/aplinfo",
                                   {"storage": "local", "template": TEMPLATE}))  # fmt: skip
            ok(client, client.call("POST", f"/nodes/{node}/lxc", {
                "vmid": VMID, "ostemplate": f"local:vztmpl/{TEMPLATE}", "rootfs": "local:0",
                "memory": 64, "swap": 0, "hostname": "bench"}))  # fmt: skip
            conf = client.call("GET", f"/nodes/{node}/lxc/{VMID}/config")
            volname = conf["rootfs"].split(",")[0].split(":", 1)[1]
            volume = d.root / "var/lib/vz/images" / volname
            ok(client, client.call("POST", f"/nodes/{node}/lxc/{VMID}/status/start"))
            lxcpath = Path(os.readlink(d.root / "run/pyxis/lxc"))  # published at first start
            cgroup = f"pyxis-{lxcpath.name}-lxc-{VMID}"
            ok(client, client.call("POST", f"/nodes/{node}/lxc/{VMID}/status/stop"))
            wait_init(cgroup, running=False)
            run_daemon(client, cgroup)  # warm-up
            config = (lxcpath / str(VMID) / "config").read_text()
            run_by_hand(lxcpath, config, volume, cgroup)
            ours, hand = [], []
            for _ in range(rounds):
                ours.append(run_daemon(client, cgroup))
                hand.append(run_by_hand(lxcpath, config, volume, cgroup))
            diff = [a - b for a, b in zip(ours, hand, strict=True)]
            print(f"{rounds} rounds, busybox container (dir subvolume, 64 MiB, no NIC)")
            print(summary("pyxisd start", ours))
            print(summary("lxc-start by hand", hand))
            print(summary("overhead pyxisd-hand", diff))
            overhead = statistics.median(diff) * 1000
            verdict = "meets" if overhead < 150 else "MISSES"
            print(f"median overhead {overhead:.1f} ms: {verdict} the < 150 ms target")
            ok(client, client.call("DELETE", f"/nodes/{node}/lxc/{VMID}", {"force": 1}))
        finally:
            d.stop()
            link = d.root / "run/pyxis/lxc"
            if link.is_symlink():
                with contextlib.suppress(OSError):
                    Path(os.readlink(link)).rmdir()  # the node's (now empty) lxcpath
    return 0


if __name__ == "__main__":
    sys.exit(main())
