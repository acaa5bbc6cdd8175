"""The status collector: node, guest and storage statistics every few seconds.

Each round (10 s by default, ``pyxisd --stats-interval`` / ``PYXIS_STATS_INTERVAL``)
samples the node (CPU and iowait fractions, 1-minute load, memory, swap, root
filesystem, physical-NIC traffic), every VM of the node (CPU fraction of its QEMU
process, RSS, configured sizes, block I/O from QMP ``query-blockstats``, traffic of its
tap devices) and every storage enabled here (total/used), and writes them into the
round-robin files of ``RrdStore``.  Counters become per-second rates between rounds.

The newest sample of each entity stays in memory (``latest``): guest listings show a
running VM's cumulative traffic and disk I/O from it instead of asking QEMU on every
request.  The clock is injectable (``clock``), and ``record`` writes a sample directly,
so tests drive the whole path with synthetic time and values.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyxis.errors import PyxisError
from pyxis.guests.qemu import runtime
from pyxis.metrics import host
from pyxis.metrics.probes import (
    Deltas,
    block_totals,
    guest_traffic,
    node_traffic,
    read_cpu_times,
    read_net_dev,
)
from pyxis.metrics.rrdstore import RrdStore

if TYPE_CHECKING:
    from pyxis.services import Services

log = logging.getLogger("pyxis.metrics")

DEFAULT_INTERVAL = 10.0
QMP_TIMEOUT = 2.0
QMP_PARALLEL = 16
STORAGE_TIMEOUT = 5.0
GUEST_COUNTERS = ("netin", "netout", "diskread", "diskwrite")


def interval_from_env(default: float = DEFAULT_INTERVAL) -> float:
    """``PYXIS_STATS_INTERVAL`` in seconds (tests shorten it), else ``default``."""
    raw = os.environ.get("PYXIS_STATS_INTERVAL", "")
    try:
        value = float(raw) if raw else default
    except ValueError:
        return default
    return value if value > 0 else default


@dataclass(frozen=True)
class Sample:
    """One entity's newest sample: gauge values as written to its RRD, cumulative
    counters (guests: bytes since start) and the guest process it came from."""

    time: float
    values: dict[str, float | None]
    counters: dict[str, int] = field(default_factory=dict)
    pid: int | None = None


@dataclass
class _Running:
    vmid: int
    pid: int
    status: dict[str, Any]
    cpu_seconds: float
    rss: int


class Collector:
    """Samples the node's statistics into its metrics store; one per ``Services``."""

    def __init__(
        self,
        svc: Services,
        *,
        clock: Callable[[], float] = time.time,
        store: RrdStore | None = None,
    ) -> None:
        self.svc = svc
        self.clock = clock
        self.store = store or RrdStore(svc.paths.lib_dir / "rrd")
        self._deltas = Deltas()
        self._latest: dict[tuple[str, str], Sample] = {}

    # --- reading ---------------------------------------------------------------------
    def latest(self, kind: str, ident: str | int) -> Sample | None:
        """The newest sample of ``kind``/``ident``, if it was sampled since start."""
        return self._latest.get((kind, str(ident)))

    def fetch(
        self, kind: str, ident: str | int, timeframe: str, cf: str = "AVERAGE"
    ) -> list[dict[str, Any]]:
        """RRD rows of one entity ending now: ``[{time, metric: value|None}, ...]``."""
        return self.store.fetch(kind, str(ident), timeframe, cf, self.clock())

    # --- writing ---------------------------------------------------------------------
    def record(
        self,
        kind: str,
        ident: str | int,
        values: Mapping[str, float | None],
        *,
        counters: Mapping[str, int] | None = None,
        pid: int | None = None,
        when: float | None = None,
    ) -> Sample:
        """Write one sample (taken ``when``, default now) and keep it as the latest."""
        when = self.clock() if when is None else when
        sample = Sample(when, dict(values), dict(counters or {}), pid)
        self.store.update(kind, str(ident), when, sample.values)
        self._latest[(kind, str(ident))] = sample
        return sample

    async def run(self, interval: float = DEFAULT_INTERVAL) -> None:
        """Sample every ``interval`` seconds until cancelled; then save every file."""
        try:
            while True:
                started = time.monotonic()
                try:
                    await self.sample_once()
                except Exception:
                    # one bad round (a vanished guest, a broken file) must not end
                    # collection for the daemon's lifetime
                    log.exception("status collection round failed")
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
        finally:
            await self.store.flush(everything=True)

    async def sample_once(self) -> None:
        """One round: node, guests, storages; then write the files due."""
        now = self.clock()
        try:
            dev = read_net_dev()
        except OSError:
            dev = {}
        self._sample_node(now, dev)
        await self._sample_guests(now, dev)
        from pyxis.metrics.ctsample import sample_containers

        await sample_containers(self, now, dev)
        await self._sample_storages(now)
        self._deltas.prune()
        await self.store.flush()

    def _sample_node(self, now: float, dev: Mapping[str, tuple[int, int]]) -> None:
        cpu = read_cpu_times()
        values: dict[str, float | None] = {}
        got = self._deltas.step(
            ("node", "cpu"), now, {"busy": cpu.busy, "iowait": cpu.iowait, "total": cpu.total}
        )
        if got is not None and got[1].get("total"):
            diffs = got[1]
            values["cpu"] = _fraction(diffs.get("busy", 0.0) / diffs["total"])
            values["iowait"] = _fraction(diffs.get("iowait", 0.0) / diffs["total"])
        netin, netout = node_traffic(dev)
        values.update(self._deltas.rates(("node", "net"), now, {"netin": netin, "netout": netout}))
        mem = host.meminfo()
        root = host.fs_usage(str(self.svc.paths.root))
        values.update(
            maxcpu=float(os.cpu_count() or 1),
            loadavg=os.getloadavg()[0],
            memtotal=mem["total"],
            memused=mem["used"],
            swaptotal=mem["swap_total"],
            swapused=mem["swap_used"],
            roottotal=root["total"],
            rootused=root["used"],
        )
        self.record("node", self.svc.node, values, when=now)

    async def _sample_guests(self, now: float, dev: Mapping[str, tuple[int, int]]) -> None:
        qemu = self.svc.qemu
        taps = guest_traffic(dev)
        running: list[_Running] = []
        seen: set[str] = set()
        for vmid in qemu.local_vmids():
            try:
                cfg, _ = qemu.load(vmid)
                status = qemu.basic_status(vmid, cfg)
            except PyxisError:
                continue
            seen.add(str(vmid))
            pid = status.get("pid")
            stats = runtime.proc_stats(pid) if pid else None
            if stats is None:
                self.record("qemu", vmid, _stopped(status), when=now)
            else:
                running.append(_Running(vmid, stats.pid, status, stats.cpu_seconds, stats.rss))
        disks = await self._block_totals([r.vmid for r in running])
        for r, disk in zip(running, disks, strict=True):
            counters: dict[str, int] = {}
            if r.vmid in taps:
                counters["netin"], counters["netout"] = taps[r.vmid]
            if disk is not None:
                counters["diskread"], counters["diskwrite"] = disk
            rates = self._deltas.rates(("qemu", r.vmid, r.pid), now, counters)
            cpus = max(1, int(r.status.get("cpus", 1)))
            cpu: float | None = None
            got = self._deltas.step(("qemu-cpu", r.vmid, r.pid), now, {"cpu": r.cpu_seconds})
            if got is not None and "cpu" in got[1]:
                cpu = _fraction(got[1]["cpu"] / got[0] / cpus)
            values: dict[str, float | None] = {
                "cpu": cpu,
                "maxcpu": float(cpus),
                "mem": float(r.rss),
                "maxmem": float(r.status.get("maxmem", 0)),
                "disk": 0.0,
                "maxdisk": float(r.status.get("maxdisk", 0)),
            }
            values.update({k: rates.get(k) for k in GUEST_COUNTERS})
            self.record("qemu", r.vmid, values, counters=counters, pid=r.pid, when=now)
        for key in [k for k in self._latest if k[0] == "qemu" and k[1] not in seen]:
            del self._latest[key]  # destroyed or migrated away: keep its file, free memory
            self.store.forget(*key)

    async def _block_totals(self, vmids: list[int]) -> list[tuple[int, int] | None]:
        limit = asyncio.Semaphore(QMP_PARALLEL)

        async def one(vmid: int) -> tuple[int, int] | None:
            async with limit:
                return await block_totals(self.svc.qemu.run_paths(vmid).qmp, QMP_TIMEOUT)

        return list(await asyncio.gather(*(one(v) for v in vmids)))

    async def _sample_storages(self, now: float) -> None:
        storage = self.svc.storage
        cfg = storage.config()
        sids = [sid for sid in cfg.order if storage.enabled_here(cfg.ids[sid])]

        async def one(sid: str) -> dict[str, int] | None:
            with contextlib.suppress(PyxisError, OSError, TimeoutError):
                return await asyncio.wait_for(storage.instance(sid).status(), STORAGE_TIMEOUT)
            return None

        for sid, st in zip(sids, await asyncio.gather(*(one(s) for s in sids)), strict=True):
            if st is not None and st.get("active", 1):
                self.record("storage", sid, {"total": st["total"], "used": st["used"]}, when=now)


def _fraction(x: float) -> float:
    return max(0.0, min(1.0, x))


def _stopped(status: Mapping[str, Any]) -> dict[str, float | None]:
    """A stopped VM's row: sizes as configured, activity zero (as upstream graphs it)."""
    return {
        "cpu": 0.0,
        "maxcpu": float(status.get("cpus", 1)),
        "mem": 0.0,
        "maxmem": float(status.get("maxmem", 0)),
        "disk": 0.0,
        "maxdisk": float(status.get("maxdisk", 0)),
        **{k: 0.0 for k in GUEST_COUNTERS},
    }
