"""One collector round for the node's containers (RRD kind ``lxc``).

For every container of the node: CPU fraction from its cgroup's CPU time between two
rounds, memory (cgroup usage), configured sizes, disk use of its mounted root, and
network rates from its ``veth<vmid>i<N>`` host ends; a stopped container is written
with zero activity, as upstream graphs it.  The cumulative counters of a running one
stay in the collector's ``latest`` sample, where status calls read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from pyxis.errors import PyxisError
from pyxis.guests.lxc import stats

if TYPE_CHECKING:
    from pyxis.metrics.collector import Collector

KIND = "lxc"


async def sample_containers(col: Collector, now: float, dev: Mapping[str, tuple[int, int]]) -> None:
    from pyxis.metrics.collector import GUEST_COUNTERS, _fraction, _stopped

    lxc = col.svc.lxc
    traffic = stats.veth_traffic(dict(dev))
    seen: set[str] = set()
    for vmid in lxc.local_vmids():
        try:
            cfg, _ = lxc.load(vmid)
        except PyxisError:
            continue
        seen.add(str(vmid))
        status = lxc.static_status(vmid, cfg)
        info = lxc.fast_info(vmid)
        if info.pid is None:
            col.record(KIND, vmid, _stopped(status), when=now)
            continue
        use = stats.usage(info.pid)
        counters: dict[str, int] = {}
        if vmid in traffic:
            counters["netin"], counters["netout"] = traffic[vmid]
        rates = col._deltas.rates((KIND, vmid, info.pid), now, counters)
        cpus = max(1, int(status.get("cpus", 1)))
        cpu: float | None = None
        got = col._deltas.step((KIND + "-cpu", vmid, info.pid), now, {"cpu": use.cpu_seconds})
        if got is not None and "cpu" in got[1]:
            cpu = _fraction(got[1]["cpu"] / got[0] / cpus)
        values: dict[str, float | None] = {
            "cpu": cpu,
            "maxcpu": float(cpus),
            "mem": float(use.mem),
            "maxmem": float(status.get("maxmem", 0)),
            "disk": float(stats.disk_used(lxc.ct(vmid).rootfs)),
            "maxdisk": float(status.get("maxdisk", 0)),
        }
        values.update({k: rates.get(k) for k in GUEST_COUNTERS})
        col.record(KIND, vmid, values, counters=counters, pid=info.pid, when=now)
    for key in [k for k in col._latest if k[0] == KIND and k[1] not in seen]:
        del col._latest[key]
        col.store.forget(*key)
