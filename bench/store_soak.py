"""Soak: the replicated store's randomized fault run on real corosync, for longer.

The same run as ``tests/system/test_store_cluster.py::test_random_faults`` (writers on
all three nodes; random partitions, SIGKILL + restart, SIGSTOP/SIGCONT of a harness or
a whole node; heal; the history checker), for SECONDS (default 300) and a given seed.
Exits non-zero when the checker finds a problem.  Needs root and corosync.

Usage: ``.venv/bin/python bench/store_soak.py [SECONDS] [SEED]``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from store_cluster import StoreCluster, fault_run


async def main(seconds: float, seed: int) -> int:
    with tempfile.TemporaryDirectory(prefix="pyxis-soak-") as tmp:
        c = StoreCluster(Path(tmp))
        try:
            c.setup()
            await c.start_all()
            started = time.monotonic()
            report = await fault_run(c, seconds, seed)
            print(f"{time.monotonic() - started:.0f}s wall; {report.summary()}")
            await c.stop_harnesses()
            return 1 if report.problems else 0
        finally:
            c.close()


def runnable() -> bool:
    """Root and corosync are needed (namespaces); say so and skip otherwise."""
    if os.geteuid() != 0 or shutil.which("corosync") is None:
        print(f"{Path(__file__).name}: skipped (needs root and corosync)")
        return False
    return True


if __name__ == "__main__":
    if not runnable():
        sys.exit(0)
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 300.0
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else int(time.time()) % 100_000
    sys.exit(asyncio.run(main(secs, seed)))
