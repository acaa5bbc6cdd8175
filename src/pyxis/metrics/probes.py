"""Raw counters the status collector samples: CPU times, network devices, block I/O.

Readers take the file's text as an optional argument so that tests feed them fixed
input; ``Deltas`` turns two successive counter samples into differences and the time
between them (a counter that went backwards - a restarted guest, a recreated
device - yields nothing for that round instead of a negative rate).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pyxis.guests.qemu.qmp import Monitor, MonitorError

log = logging.getLogger("pyxis.metrics")

# upstream's PVE::Network::PHYSICAL_NIC_RE: the node's traffic is that of its physical
# NICs only; bridges, bonds, VLANs and taps carry the same bytes again
PHYSICAL_NIC_RE = re.compile(r"^(?:eth\d+|en[^:.]+|ib[^:.]+)\Z")
TAP_RE = re.compile(r"^tap(\d+)i\d+\Z")


@dataclass(frozen=True)
class CpuTimes:
    """Aggregate CPU jiffies from /proc/stat: busy, iowait and total."""

    busy: int
    iowait: int
    total: int


def read_cpu_times(text: str | None = None) -> CpuTimes:
    if text is None:
        with open("/proc/stat") as fh:
            text = fh.readline()
    fields = [int(x) for x in text.split("\n", 1)[0].split()[1:]]
    fields += [0] * (8 - len(fields))
    # user nice system idle iowait irq softirq steal (guest time is inside user)
    idle, iowait = fields[3], fields[4]
    total = sum(fields[:8])
    return CpuTimes(busy=total - idle - iowait, iowait=iowait, total=total)


def read_net_dev(text: str | None = None) -> dict[str, tuple[int, int]]:
    """Interface -> (received bytes, transmitted bytes) from /proc/net/dev."""
    if text is None:
        text = Path("/proc/net/dev").read_text()
    out: dict[str, tuple[int, int]] = {}
    for line in text.splitlines()[2:]:
        name, sep, rest = line.partition(":")
        fields = rest.split()
        if sep and len(fields) >= 9:
            out[name.strip()] = (int(fields[0]), int(fields[8]))
    return out


def node_traffic(dev: Mapping[str, tuple[int, int]]) -> tuple[int, int]:
    """(in, out) bytes summed over the physical NICs."""
    rx = sum(v[0] for k, v in dev.items() if PHYSICAL_NIC_RE.match(k))
    tx = sum(v[1] for k, v in dev.items() if PHYSICAL_NIC_RE.match(k))
    return rx, tx


def guest_traffic(dev: Mapping[str, tuple[int, int]]) -> dict[int, tuple[int, int]]:
    """VMID -> (netin, netout) bytes over its ``tap<vmid>i<N>`` devices.

    A tap is the host's end of the guest's NIC: what the tap transmits the guest
    receives (``netin``) and what it receives the guest sent (``netout``).
    """
    out: dict[int, tuple[int, int]] = {}
    for name, (rx, tx) in dev.items():
        m = TAP_RE.match(name)
        if m:
            vmid = int(m.group(1))
            netin, netout = out.get(vmid, (0, 0))
            out[vmid] = (netin + tx, netout + rx)
    return out


async def block_totals(qmp: Path, timeout: float = 2.0) -> tuple[int, int] | None:
    """(read, written) bytes over the VM's block devices via ``query-blockstats``.

    Short timeouts: QEMU serves one QMP client at a time, so a long operation holding
    the monitor makes this round skip disk rates rather than wait for it.
    """
    try:
        async with asyncio.timeout(timeout):
            async with Monitor(qmp, connect_timeout=timeout / 2) as mon:
                stats = await mon.query_blockstats()
    except (MonitorError, TimeoutError) as err:
        log.debug("blockstats of %s skipped: %s", qmp, err)
        return None
    rd = wr = 0
    for dev in stats:
        st = dev.get("stats") or {}
        rd += int(st.get("rd_bytes", 0))
        wr += int(st.get("wr_bytes", 0))
    return rd, wr


class Deltas:
    """Differences between successive counter samples, per key."""

    def __init__(self) -> None:
        self._prev: dict[Hashable, tuple[float, dict[str, float]]] = {}
        self._touched: set[Hashable] = set()

    def step(
        self, key: Hashable, now: float, counters: Mapping[str, float]
    ) -> tuple[float, dict[str, float]] | None:
        """Record ``counters`` at ``now``; return (seconds elapsed, per-counter delta)
        against the previous sample of ``key``, None on the first sample.  Counters
        missing from either sample, or that went backwards, are left out."""
        prev = self._prev.get(key)
        self._prev[key] = (now, dict(counters))
        self._touched.add(key)
        if prev is None or now <= prev[0]:
            return None
        diffs = {k: v - prev[1][k] for k, v in counters.items() if k in prev[1] and v >= prev[1][k]}
        return now - prev[0], diffs

    def rates(self, key: Hashable, now: float, counters: Mapping[str, float]) -> dict[str, float]:
        """Per-second rates of ``counters`` (empty on the first sample)."""
        got = self.step(key, now, counters)
        if got is None:
            return {}
        elapsed, diffs = got
        return {k: d / elapsed for k, d in diffs.items()}

    def prune(self) -> None:
        """Forget keys not stepped since the previous ``prune`` (removed guests, storages,
        restarted processes), so the history does not grow without bound."""
        for key in set(self._prev) - self._touched:
            del self._prev[key]
        self._touched = set()
