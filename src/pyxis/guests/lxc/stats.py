"""Usage figures of a running container: CPU, memory and swap from its cgroup, network
traffic from its host-side veth devices, disk use from its mounted root file system.

The cgroup is found through ``/proc/<init pid>/cgroup``; both layouts are read: v1
(``memory.usage_in_bytes``, ``memory.memsw.usage_in_bytes``, ``cpuacct.usage``, proved on
the build machine) and v2 (``memory.current``, ``memory.swap.current``, ``cpu.stat``,
proved only by unit tests against a fake tree).  Everything answers ``None``/0 rather
than raising when a file is missing: a container may stop between two reads.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from pyxis.guests.cgroups import DEFAULT_BASE

VETH_RE = re.compile(r"^veth(\d+)i(\d+)\Z")


@dataclass(frozen=True)
class CtUsage:
    cpu_seconds: float
    mem: int
    swap: int


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def cgroup_dirs(pid: int, base: Path = DEFAULT_BASE) -> dict[str, Path]:
    """Controller (``""`` for the unified tree) -> cgroup directory of ``pid``."""
    out: dict[str, Path] = {}
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return out
    v2_root = base if (base / "cgroup.controllers").is_file() else base / "unified"
    for line in lines:
        _hid, ctrls, path = line.split(":", 2)
        rel = path.lstrip("/")
        if not ctrls:
            out[""] = v2_root / rel
            continue
        for ctrl in ctrls.split(","):
            out[ctrl] = base / ctrl / rel
    return out


def usage(pid: int, base: Path = DEFAULT_BASE) -> CtUsage:
    """CPU seconds, memory and swap bytes charged to the container of ``pid``."""
    dirs = cgroup_dirs(pid, base)
    mem_dir, cpu_dir = dirs.get("memory"), dirs.get("cpuacct")
    if mem_dir is not None:
        mem = _read_int(mem_dir / "memory.usage_in_bytes") or 0
        memsw = _read_int(mem_dir / "memory.memsw.usage_in_bytes")
        swap = max(0, memsw - mem) if memsw is not None else 0
    else:
        unified = dirs.get("", base)
        mem = _read_int(unified / "memory.current") or 0
        swap = _read_int(unified / "memory.swap.current") or 0
    cpu = 0.0
    if cpu_dir is not None and (ns := _read_int(cpu_dir / "cpuacct.usage")) is not None:
        cpu = ns / 1e9
    elif "" in dirs:
        try:
            for line in (dirs[""] / "cpu.stat").read_text().splitlines():
                if line.startswith("usage_usec"):
                    cpu = int(line.split()[1]) / 1e6
        except (OSError, ValueError):
            pass
    return CtUsage(cpu, mem, swap)


def veth_traffic(dev: dict[str, tuple[int, int]]) -> dict[int, tuple[int, int]]:
    """VMID -> (netin, netout) over its ``veth<vmid>i<N>`` host ends (host tx = CT rx)."""
    out: dict[int, tuple[int, int]] = {}
    for name, (rx, tx) in dev.items():
        m = VETH_RE.match(name)
        if m:
            vmid = int(m.group(1))
            netin, netout = out.get(vmid, (0, 0))
            out[vmid] = (netin + tx, netout + rx)
    return out


def disk_used(mountpoint: Path) -> int:
    """Bytes used on the file system mounted at ``mountpoint`` (0 if unavailable)."""
    try:
        st = os.statvfs(mountpoint)
    except OSError:
        return 0
    return (st.f_blocks - st.f_bfree) * st.f_frsize
