"""Benchmark: replicated config-store writes on 3 real corosync nodes vs one LocalStore.

16 concurrent writers (6 + 5 + 5 spread over the three nodes' harness processes) each
replace their own file with a fresh 4 KiB value in a loop for T seconds; a write counts
when ``ClusterStore.write`` returned (applied and committed locally and reported
applied by every member).  The baseline is the same workload — 16 concurrent writers,
4 KiB values — on one ``LocalStore`` in this process, in the same run.  Prints writes/s,
p50/p99 commit latency and the ratio.  Needs root and corosync (network namespaces).

The three corosyncs run as on the testbed (normal scheduling at the highest nice
priority: they share this machine's cores); ``--realtime`` keeps corosync's default
round-robin real-time scheduling instead, as on dedicated hosts — three real-time
corosyncs passing the token on two cores preempt the store processes, which shows.

Usage: ``.venv/bin/python bench/store_cluster.py [SECONDS] [--realtime]`` (default 10).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from store_cluster import StoreCluster

from pyxis.store.local import LocalStore

WRITERS = 16
SIZE = 4096
SPREAD = (6, 5, 5)


def line(name: str, lat: list[float], seconds: float) -> float:
    lat = sorted(lat)
    rate = len(lat) / seconds
    p50 = statistics.median(lat)
    p99 = lat[max(0, int(len(lat) * 0.99) - 1)]
    print(
        f"{name:<22} {len(lat):>7} writes {rate:>8.0f} writes/s  p50 {p50:6.2f} ms  "
        f"p99 {p99:6.2f} ms"
    )
    return rate


async def local(tmp: Path, seconds: float) -> list[float]:
    store = LocalStore.open(tmp / "local" / "config.db", "n1")
    lat: list[float] = []
    end = time.monotonic() + seconds

    async def writer(w: int) -> None:
        while time.monotonic() < end:
            t0 = time.perf_counter()
            await store.write(f"bench/{w}.cfg", os.urandom(SIZE // 2).hex().encode())
            lat.append((time.perf_counter() - t0) * 1000)
            await asyncio.sleep(0)  # let the other writers in, as a server would

    await asyncio.gather(*(writer(w) for w in range(WRITERS)))
    await store.close()
    return lat


async def cluster(tmp: Path, seconds: float, realtime: bool) -> tuple[list[float], int]:
    c = StoreCluster(tmp, realtime=realtime)
    try:
        c.setup()
        await c.start_all()
        res = await asyncio.gather(
            *(
                c.harness[i].req(
                    cmd="bench", writers=n, seconds=seconds, size=SIZE, timeout=seconds + 60
                )
                for i, n in enumerate(SPREAD)
            )
        )
        st = await c.wait_converged(30)
        assert len({s["checksum"] for s in st.values()}) == 1
        for i, s in st.items():
            print(
                f"node{i + 1}: "
                + ", ".join(f"{k} {s[k]}" for k in ("sent", "delivered", "commits", "ops", "gv"))
            )
        await c.stop_harnesses(None)
        return [x for r in res for x in r["latencies"]], sum(r["errors"] for r in res)
    finally:
        c.close()


async def main(seconds: float, realtime: bool) -> None:
    sched = "real-time (corosync default)" if realtime else "normal, nice -20 (testbed)"
    print(f"corosync scheduling: {sched}")
    with tempfile.TemporaryDirectory(prefix="pyxis-bench-") as tmp:
        base = line("LocalStore (1 node)", await local(Path(tmp), seconds), seconds)
        lat, errors = await cluster(Path(tmp), seconds, realtime)
        rate = line("ClusterStore (3 nodes)", lat, seconds)
    print(
        f"errors {errors}; ratio cluster/local {rate / base:.2f} "
        f"(targets: >= 1,000 writes/s, p99 < 20 ms)"
    )


def runnable() -> bool:
    """Root and corosync are needed (namespaces); say so and skip otherwise."""
    if os.geteuid() != 0 or shutil.which("corosync") is None:
        print(f"{Path(__file__).name}: skipped (needs root and corosync)")
        return False
    return True


if __name__ == "__main__":
    if not runnable():
        sys.exit(0)
    args = [a for a in sys.argv[1:] if a != "--realtime"]
    asyncio.run(main(float(args[0]) if args else 10.0, "--realtime" in sys.argv[1:]))
