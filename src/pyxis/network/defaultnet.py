"""The out-of-the-box network: an isolated bridge ``vmbr0`` with NAT and DHCP.

Like libvirt's default network: when the host has no ``vmbr0``, ``make run`` creates
one with a private subnet, masquerades it to the host's uplinks with nftables and
serves DHCP/DNS on it with dnsmasq, so a new user's first guest gets an address and
internet through the host.  Existing interfaces are never touched: when ``vmbr0``
already exists nothing is changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import signal
from pathlib import Path

from pyxis.network.taps import bridge_exists
from pyxis.util.run import run

BRIDGE = "vmbr0"
SUBNET = ipaddress.IPv4Network("10.239.0.0/24")
NFT_TABLE = "pyxis_nat"


def dnsmasq_argv(
    bridge: str, subnet: ipaddress.IPv4Network, pidfile: Path, leases: Path
) -> list[str]:
    hosts = list(subnet.hosts())
    gateway, first, last = hosts[0], hosts[99], hosts[199]
    return [
        "dnsmasq",
        "--strict-order",
        "--bind-interfaces",
        f"--interface={bridge}",
        "--except-interface=lo",
        f"--listen-address={gateway}",
        f"--dhcp-range={first},{last},{subnet.netmask},12h",
        f"--dhcp-leasefile={leases}",
        f"--pid-file={pidfile}",
        "--dhcp-authoritative",
        f"--dhcp-option=option:router,{gateway}",
        "--conf-file=/dev/null",
    ]


def nft_ruleset(bridge: str, subnet: ipaddress.IPv4Network) -> str:
    return (
        f"table ip {NFT_TABLE} {{\n"
        "  chain postrouting {\n"
        "    type nat hook postrouting priority srcnat; policy accept;\n"
        f'    ip saddr {subnet} ip daddr != {subnet} oifname != "{bridge}" masquerade\n'
        "  }\n"
        "}\n"
    )


async def ensure(
    run_dir: Path, bridge: str = BRIDGE, subnet: ipaddress.IPv4Network = SUBNET
) -> str:
    """Create the NAT bridge if missing; (re)start its dnsmasq.  Returns what was done."""
    if bridge_exists(bridge) and not (run_dir / f"dnsmasq-{bridge}.pid").exists():
        return f"{bridge} exists: left untouched"
    created = False
    if not bridge_exists(bridge):
        gateway = next(subnet.hosts())
        await run(["ip", "link", "add", "name", bridge, "type", "bridge"])
        await run(["ip", "addr", "add", f"{gateway}/{subnet.prefixlen}", "dev", bridge])
        await run(["ip", "link", "set", "dev", bridge, "up"])
        created = True
    Path("/proc/sys/net/ipv4/ip_forward").write_text("1\n")
    await run(["nft", "delete", "table", "ip", NFT_TABLE], check=False)
    await run(["nft", "-f", "-"], stdin=nft_ruleset(bridge, subnet).encode())
    pidfile = run_dir / f"dnsmasq-{bridge}.pid"
    await _stop_pid(pidfile)
    await run(dnsmasq_argv(bridge, subnet, pidfile, run_dir / f"dnsmasq-{bridge}.leases"))
    return f"{bridge}: {'created' if created else 'kept'} {subnet} with NAT and DHCP"


async def _stop_pid(pidfile: Path, grace: float = 5.0) -> None:
    """Stop the process of ``pidfile`` and wait until it is gone (its listening sockets
    with it: a new dnsmasq started at once would find the address in use)."""
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        return
    for _ in range(int(grace / 0.02)):
        if not Path(f"/proc/{pid}").exists():
            return
        await asyncio.sleep(0.02)
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
    await asyncio.sleep(0.1)
