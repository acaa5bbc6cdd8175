"""Write many guest configs straight into a node's config store (before pyxisd starts).

The tree-scrolling test needs 1,000 guests; creating them through the API would take
minutes of tasks, while the store is the source of truth the daemon reads on start.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from pyxis.paths import Paths
from pyxis.store.local import LocalStore


def qemu_conf(vmid: int) -> bytes:
    return (
        f"name: e2e-vm-{vmid}\nmemory: 512\ncores: 1\nostype: l26\n"
        f"net0: virtio=BC:24:11:{vmid // 65536 % 256:02X}:{vmid // 256 % 256:02X}:"
        f"{vmid % 256:02X},bridge=vmbr0\n"
        + (f"tags: {'web' if vmid % 3 == 0 else 'db'}\n" if vmid % 5 == 0 else "")
    ).encode()


def lxc_conf(vmid: int) -> bytes:
    return (
        f"arch: amd64\nhostname: e2e-ct-{vmid}\nmemory: 256\nostype: debian\n"
        f"rootfs: local:{vmid}/vm-{vmid}-disk-0.raw,size=1G\n"
    ).encode()


async def _seed(root: Path, node: str, count: int, first: int) -> None:
    paths = Paths.at(root)
    paths.ensure()
    store = LocalStore.open(paths.config_db, node)
    try:
        for i in range(count):
            vmid = first + i
            if i % 5 == 4:
                await store.write(f"nodes/{node}/lxc/{vmid}.conf", lxc_conf(vmid), writer="e2e")
            else:
                await store.write(
                    f"nodes/{node}/qemu-server/{vmid}.conf", qemu_conf(vmid), writer="e2e"
                )
    finally:
        await store.close()


def seed_guests(root: Path, node: str, count: int, first: int = 1000) -> None:
    """``count`` guest configs (every fifth a container) with vmids from ``first``.

    Runs in a child process: Playwright's sync API keeps an event loop running in
    the test's thread, so ``asyncio.run`` cannot be used here.
    """
    subprocess.run(
        [sys.executable, __file__, str(root), node, str(count), str(first)],
        check=True,
    )


if __name__ == "__main__":
    asyncio.run(_seed(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
