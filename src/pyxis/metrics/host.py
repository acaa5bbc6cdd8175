"""Host statistics read from /proc and statvfs: CPU, memory, swap, load, uptime.

CPU usage is the busy fraction since the previous sample, as upstream reports it
(0.0 ... 1.0 over all CPUs); the first sample is taken at import so that the first
answer is already meaningful.
"""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from functools import lru_cache


@dataclass
class _CpuSample:
    busy: int
    total: int
    when: float


def _read_cpu() -> _CpuSample:
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return _CpuSample(total - idle, total, time.monotonic())


_last = _read_cpu()
_last_usage = 0.0


def cpu_usage() -> float:
    """Busy fraction of all CPUs since the previous call (at most once per second)."""
    global _last, _last_usage
    now = _read_cpu()
    if now.when - _last.when >= 1.0 and now.total > _last.total:
        _last_usage = (now.busy - _last.busy) / (now.total - _last.total)
        _last = now
    return round(max(0.0, min(1.0, _last_usage)), 4)


def meminfo() -> dict[str, int]:
    """Memory and swap in bytes: total, free, used, available; swap total/free/used."""
    info: dict[str, int] = {}
    with open("/proc/meminfo") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            info[key] = int(rest.split()[0]) * 1024
    total, avail = info["MemTotal"], info.get("MemAvailable", info["MemFree"])
    return {
        "total": total,
        "free": info["MemFree"],
        "available": avail,
        "used": total - avail,
        "swap_total": info.get("SwapTotal", 0),
        "swap_free": info.get("SwapFree", 0),
        "swap_used": info.get("SwapTotal", 0) - info.get("SwapFree", 0),
    }


def uptime() -> int:
    with open("/proc/uptime") as fh:
        return int(float(fh.read().split()[0]))


def loadavg() -> list[str]:
    return [f"{x:.2f}" for x in os.getloadavg()]


@lru_cache(maxsize=1)
def _cpu_topology() -> tuple[str, int, int]:
    """Model name and socket and core counts: fixed hardware facts, so parsed once
    (/proc/cpuinfo is long, and /cluster/resources asks on every request)."""
    model = platform.processor() or "unknown"
    sockets: set[str] = set()
    cores: set[tuple[str, str]] = set()
    with open("/proc/cpuinfo") as fh:
        phys = "0"
        for line in fh:
            key, _, val = line.partition(":")
            key, val = key.strip(), val.strip()
            if key == "model name":
                model = val
            elif key == "physical id":
                phys = val
                sockets.add(val)
            elif key == "core id":
                cores.add((phys, val))
    return model, len(sockets), len(cores)


def cpuinfo() -> dict[str, object]:
    model, sockets, cores = _cpu_topology()
    cpus = os.cpu_count() or 1
    return {
        "model": model,
        "cpus": cpus,
        "sockets": max(1, sockets),
        "cores": max(1, cores) if cores else cpus,
        "mhz": "0",
        "hvm": "1" if os.path.exists("/dev/kvm") else "0",
    }


def fs_usage(path: str) -> dict[str, int]:
    st = os.statvfs(path)
    total = st.f_blocks * st.f_frsize
    avail = st.f_bavail * st.f_frsize
    return {"total": total, "avail": avail, "used": total - st.f_bfree * st.f_frsize, "free": avail}
