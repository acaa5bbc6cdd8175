"""Guest tap devices: created before QEMU starts, attached to their bridge, removed after.

QEMU opens an existing tap (``-netdev tap,ifname=...,script=no``), so no helper
script runs as root inside QEMU's context.  A VLAN ``tag`` uses the bridge's VLAN
filtering when the bridge is VLAN-aware; ``rate`` (MB/s) becomes a token-bucket
qdisc on the tap (traffic towards the guest) as a simple egress limit.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from pyxis.errors import PyxisError
from pyxis.util.run import run

SYS_NET = Path("/sys/class/net")


def tap_name(vmid: int, index: int) -> str:
    return f"tap{vmid}i{index}"


def exists(name: str) -> bool:
    return (SYS_NET / name).exists()


def bridge_exists(bridge: str) -> bool:
    return (SYS_NET / bridge / "bridge").is_dir()


def vlan_aware(bridge: str) -> bool:
    try:
        return (SYS_NET / bridge / "bridge" / "vlan_filtering").read_text().strip() == "1"
    except OSError:
        return False


async def create(
    name: str,
    bridge: str,
    *,
    mtu: int | None = None,
    tag: int | None = None,
    rate_mbps: float | None = None,
    queues: int = 1,
) -> None:
    """Create tap ``name`` and plug it into ``bridge`` (which must exist)."""
    if not bridge_exists(bridge):
        raise PyxisError(f"bridge '{bridge}' does not exist", status=400)
    await remove(name)
    # QEMU opens a multi-queue tap only when the NIC has queues > 1; the flags must match
    mq = ["multi_queue"] if queues > 1 else []
    await run(["ip", "tuntap", "add", "dev", name, "mode", "tap", *mq])
    try:
        bridge_mtu = int((SYS_NET / bridge / "mtu").read_text().strip())
        await run(["ip", "link", "set", "dev", name, "mtu", str(mtu or bridge_mtu)])
        await run(["ip", "link", "set", "dev", name, "master", bridge])
        if tag is not None:
            if not vlan_aware(bridge):
                raise PyxisError(
                    f"bridge '{bridge}' is not VLAN aware: cannot use tag {tag}", status=400
                )
            await run(["bridge", "vlan", "del", "dev", name, "vid", "1"], check=False)
            await run(["bridge", "vlan", "add", "dev", name, "vid", str(tag), "pvid", "untagged"])
        if rate_mbps:
            kbit = int(rate_mbps * 8 * 1024)
            await run(
                [
                    "tc",
                    "qdisc",
                    "replace",
                    "dev",
                    name,
                    "root",
                    "tbf",
                    "rate",
                    f"{kbit}kbit",
                    "burst",
                    "256kb",
                    "latency",
                    "50ms",
                ]
            )
        await run(["ip", "link", "set", "dev", name, "up"])
    except BaseException:
        await remove(name)
        raise


async def remove(name: str) -> None:
    if exists(name):
        await run(["ip", "link", "del", "dev", name], check=False)


async def remove_all(vmid: int) -> None:
    prefix = f"tap{vmid}i"
    with contextlib.suppress(OSError):
        for entry in os.listdir(SYS_NET):
            if entry.startswith(prefix) and entry[len(prefix) :].isdigit():
                await remove(entry)
