"""VM operations of one node: config edits, lifecycle, status.

The API layer declares and validates; this module runs the operations through the
orchestrator's phases (check -> lock -> check prerequisites -> execute) and the driver
primitives (config model, argv builder, runtime, QMP).  Long operations run as tasks.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import TYPE_CHECKING, Any

from pyxis.access import pools
from pyxis.errors import Conflict, NotFound, ParamError, PermissionDenied, PyxisError
from pyxis.guests.cgroups import CgroupSpec, guest_cgroup_name
from pyxis.guests.orchestrator import CpuSampler, GuestRegistry, Rollback, conf_path
from pyxis.guests.qemu import configure, hotplug, runtime
from pyxis.guests.qemu.argv import UNSUPPORTED
from pyxis.guests.qemu.config import VmConfig, digest, parse_config, render_config
from pyxis.guests.qemu.disks import DrivePlan, check_drive, realize_drive
from pyxis.guests.qemu.keys import (
    is_drive_key,
    mac_generate,
    parse_boot_order,
    parse_net,
    parse_value,
    print_value,
)
from pyxis.guests.qemu.privs import privilege_for
from pyxis.guests.qemu.qmp import Monitor, MonitorError
from pyxis.guests.qemu.version import qemu_version
from pyxis.network import taps
from pyxis.tasks.manager import TaskLog

if TYPE_CHECKING:
    from pyxis.services import Services

log = logging.getLogger("pyxis.qemu")
KIND = "qemu"
MIB = 1024 * 1024


class QemuService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.guests = GuestRegistry(svc)
        self.cpu = CpuSampler()

    # --- config access ------------------------------------------------------
    def path(self, vmid: int) -> str:
        return self.guests.require(vmid, KIND)

    def load(self, vmid: int) -> tuple[VmConfig, str]:
        entry = self.svc.store.get(self.path(vmid))
        if entry is None:
            raise NotFound(
                f"Configuration file '{conf_path(self.svc.node, KIND, vmid)}' does not exist"
            )
        text = entry.data.decode()
        try:
            return parse_config(text), digest(text)
        except ValueError as err:
            raise PyxisError(f"VM {vmid}: broken config file: {err}") from err

    async def save(self, vmid: int, cfg: VmConfig, expect_digest: str | None) -> None:
        await self.svc.store.write(
            self.path(vmid),
            render_config(cfg).encode(),
            expect_digest=expect_digest,
            writer=self.svc.node,
        )

    def run_paths(self, vmid: int) -> runtime.RunPaths:
        return runtime.RunPaths(self.svc.paths.run_dir, vmid)

    def pid(self, vmid: int) -> int | None:
        return runtime.is_running(vmid, self.run_paths(vmid))

    def check_not_locked(self, cfg: VmConfig, skiplock: bool = False) -> None:
        lock = cfg.main.get("lock")
        if lock and not skiplock:
            raise Conflict(f"VM is locked ({lock})")

    # --- permissions for config keys ----------------------------------------
    def check_key_privs(
        self,
        authid: str,
        vmid: int,
        keys: list[str],
        cdrom_keys: set[str] | None = None,
        pool: str | None = None,
    ) -> None:
        """Each key's privilege on the VM (or, while creating into ``pool``, on the pool)."""
        for key in keys:
            priv = privilege_for(key, cdrom=key in (cdrom_keys or set()))
            if priv == "root":
                if authid != "root@pam":
                    raise PermissionDenied(f"only root@pam may set '{key}'")
                continue
            if pool and self.svc.access.check(authid, f"/pool/{pool}", [priv]):
                continue
            if not self.svc.access.check(authid, f"/vms/{vmid}", [priv]):
                raise PermissionDenied(f"Permission check failed (/vms/{vmid}, {priv})")

    # --- create --------------------------------------------------------------
    async def prepare_values(
        self, authid: str, vmid: int, params: dict[str, Any]
    ) -> tuple[dict[str, str], list[DrivePlan]]:
        """Validate config values (typed parse, drives, MACs); nothing is written."""
        values: dict[str, str] = {}
        plans: list[DrivePlan] = []
        errors: dict[str, str] = {}
        for key, raw in params.items():
            value = str(raw)
            if key in UNSUPPORTED or (key.startswith("usb") and key[3:].isdigit()):
                errors[key] = "not supported yet (the VM could not start with it)"
                continue
            if is_drive_key(key):
                plans.append(await check_drive(self.svc, authid, vmid, key, value))
                continue
            try:
                parsed = parse_value(key, value)
                if key.startswith("net") and key[3:].isdigit():
                    net = parse_net(value)
                    if not net.get("macaddr"):
                        net["macaddr"] = mac_generate(self._mac_prefix())
                    value = print_value(key, net)
                elif key == "name" and isinstance(parsed, str) and not parsed:
                    raise ValueError("empty name")
            except ValueError as err:
                errors[key] = str(err)
                continue
            values[key] = value
        if errors:
            raise ParamError(errors)
        return values, plans

    def _mac_prefix(self) -> str:
        return str(self.svc.datacenter().get("mac_prefix") or "BC:24:11")

    async def create(
        self, authid: str, vmid: int, params: dict[str, Any], pool: str | None = None
    ) -> str:
        params = dict(params)
        start = bool(params.pop("start", 0))
        if "cdrom" in params:
            params["ide2"] = f"{params.pop('cdrom')},media=cdrom"
        self.guests.check_free(vmid)
        cdroms = {k for k, v in params.items() if is_drive_key(k) and "media=cdrom" in str(v)}
        self.check_key_privs(authid, vmid, list(params), cdroms, pool=pool)
        values, plans = await self.prepare_values(authid, vmid, params)

        async def work(tlog: TaskLog) -> None:
            async with self.guests.lock(vmid), Rollback() as rollback:
                self.guests.check_free(vmid)
                cfg = VmConfig(main=dict(values))
                for plan in plans:
                    cfg.main[plan.key] = await realize_drive(self.svc, vmid, plan, rollback, tlog)
                now = int(time.time())
                cfg.main.setdefault("smbios1", f"uuid={uuid.uuid4()}")
                cfg.main.setdefault("vmgenid", str(uuid.uuid4()))
                cfg.main["meta"] = f"creation-qemu={qemu_version()},ctime={now}"
                path = conf_path(self.svc.node, KIND, vmid)
                await self.svc.store.create(path, render_config(cfg).encode(), writer=self.svc.node)
                rollback.clear()
                tlog.log(f"created VM {vmid}")
                if pool:
                    await pools.add_vm_async(self.svc, pool, vmid)
                    tlog.log(f"added VM {vmid} to pool '{pool}'")
            if start:
                await self._start(vmid, tlog)

        return await self.svc.tasks.start("qmcreate", str(vmid), authid, work)

    # --- update --------------------------------------------------------------
    async def update(
        self, authid: str, vmid: int, params: dict[str, Any], tlog: TaskLog | None = None
    ) -> None:
        params = dict(params)
        expect = params.pop("digest", None)
        skiplock = bool(params.pop("skiplock", 0))
        force = bool(params.pop("force", 0))
        deletes = configure.split_list(params.pop("delete", None))
        reverts = configure.split_list(params.pop("revert", None))
        params.pop("background_delay", None)
        if skiplock and authid != "root@pam":
            raise PermissionDenied("only root@pam may use 'skiplock'")
        if "cdrom" in params:
            params["ide2"] = f"{params.pop('cdrom')},media=cdrom"
        configure.check_keys({k: str(v) for k, v in params.items()}, deletes, reverts)
        if not params and not deletes and not reverts:
            raise ParamError.one("delete", "no options specified")
        cdroms = {k for k, v in params.items() if is_drive_key(k) and "media=cdrom" in str(v)}
        self.check_key_privs(authid, vmid, [*params, *deletes, *reverts], cdroms)
        values, plans = await self.prepare_values(authid, vmid, params)
        async with self.guests.lock(vmid), Rollback() as rollback:
            cfg, dig = self.load(vmid)
            if expect and expect != dig:
                raise Conflict(
                    "detected modified configuration - file changed by other user? Try again."
                )
            self.check_not_locked(cfg, skiplock)
            if cfg.main.get("protection") == "1" and any(
                k.startswith("unused") or is_drive_key(k) for k in deletes
            ):
                raise Conflict("can't remove disks of a protected VM")
            for plan in plans:
                values[plan.key] = await realize_drive(self.svc, vmid, plan, rollback, tlog)
            configure.revert_pending(cfg, reverts)
            running = self.pid(vmid) is not None
            freed: list[str] = []
            if not running:
                freed = configure.apply_stopped(cfg, values, deletes)
            else:
                live = {k: v for k, v in values.items() if k in configure.LIVE_KEYS}
                later = {k: v for k, v in values.items() if k not in configure.LIVE_KEYS}
                live_del = [k for k in deletes if k in configure.LIVE_KEYS]
                freed = configure.apply_stopped(cfg, live, live_del)
                rest = [k for k in deletes if k not in live_del]
                later, rest = await hotplug.apply(self, vmid, cfg, later, rest, freed, tlog)
                configure.add_pending(cfg, later, rest, force)
            await self.save(vmid, cfg, dig)
            rollback.clear()
        for volid in freed:
            await self._free_volume(volid, tlog)

    async def _free_volume(self, volid: str, tlog: TaskLog | None) -> None:
        sid, _, volname = volid.partition(":")
        try:
            plugin = await self.svc.storage.plugin(sid)
            await plugin.free_image(volname)
            if tlog:
                tlog.log(f"removed volume '{volid}'")
        except PyxisError as err:
            msg = f"could not remove volume '{volid}': {err.message}"
            if tlog:
                tlog.warn(msg)
            else:
                log.warning(msg)

    # --- destroy -------------------------------------------------------------
    async def destroy(
        self, authid: str, vmid: int, purge: bool, unreferenced: bool, skiplock: bool
    ) -> str:
        cfg, _ = self.load(vmid)
        if cfg.main.get("protection") == "1":
            raise Conflict("can't remove VM - protection mode enabled")
        self.check_not_locked(cfg, skiplock)
        if self.pid(vmid) is not None:
            raise Conflict(f"VM {vmid} is running - destroy failed")

        async def work(tlog: TaskLog) -> None:
            async with self.guests.lock(vmid):
                cfg, _ = self.load(vmid)
                vols = configure.referenced_volumes(cfg)
                if unreferenced:
                    vols |= await self.guests.owned_volumes(vmid, {"images"})
                for volid in sorted(vols, key=lambda v: "base-" in v):
                    await self._free_volume(volid, tlog)
                await self.svc.store.delete(self.path(vmid))
                await pools.remove_vm_async(self.svc, vmid)
                self.run_paths(vmid).cleanup()
                tlog.log(f"destroyed VM {vmid}")
            if purge:
                tlog.log("purge: no backup jobs or replication jobs reference this VM")

        return await self.svc.tasks.start("qmdestroy", str(vmid), authid, work)

    # --- listing and status --------------------------------------------------
    def local_vmids(self) -> list[int]:
        return self.guests.local_vmids("qemu")

    def basic_status(self, vmid: int, cfg: VmConfig) -> dict[str, Any]:
        conf = cfg.main
        cpus = int(conf.get("sockets", 1)) * int(conf.get("cores", 1))
        mem = str(conf.get("memory", "512")).split(",")[0].replace("current=", "")
        maxmem = int(mem or 512) * MIB
        maxdisk = 0
        # as upstream: the size of the boot disk (first disk in boot order, else first disk)
        disks = [k for k in conf if is_drive_key(k) and "media=cdrom" not in conf[k]]
        order = [d for d in parse_boot_order(conf) if d in disks] or sorted(disks)
        if order:
            size = parse_value(order[0], conf[order[0]]).get("size")
            maxdisk = _size_bytes(str(size)) if size else 0
        out: dict[str, Any] = {
            "vmid": vmid,
            "name": conf.get("name", f"VM {vmid}"),
            "status": "stopped",
            "cpus": cpus,
            "maxmem": maxmem,
            "maxdisk": maxdisk,
            "mem": 0,
            "disk": 0,
            "cpu": 0,
            "uptime": 0,
            "netin": 0,
            "netout": 0,
            "diskread": 0,
            "diskwrite": 0,
        }
        for key in ("tags", "lock"):
            if key in conf:
                out[key] = conf[key]
        if conf.get("template") == "1":
            out["template"] = 1
        pid = self.pid(vmid)
        if pid is not None:
            stats = runtime.proc_stats(pid)
            out["status"] = "running"
            out["pid"] = pid
            if stats is not None:
                out["uptime"] = int(stats.uptime)
                out["mem"] = stats.rss
                out["cpu"] = round(self.cpu.fraction(vmid, stats.cpu_seconds, cpus), 4)
            if (live := self.svc.metrics.latest(KIND, vmid)) and live.pid == pid:
                out.update(live.counters)  # cumulative I/O as of the collector's last round
        return out

    async def current_status(self, vmid: int) -> dict[str, Any]:
        cfg, _ = self.load(vmid)
        out = self.basic_status(vmid, cfg)
        out["ha"] = {"managed": 0}
        out["agent"] = 1 if cfg.main.get("agent", "0").split(",")[0] in ("1", "enabled=1") else 0
        if out["status"] == "running":
            try:
                async with Monitor(self.run_paths(vmid).qmp, connect_timeout=2.0) as mon:
                    out["qmpstatus"] = await mon.query_status()
                    ver = await mon.query_version()
                    q = ver["qemu"]
                    out["running-qemu"] = f"{q['major']}.{q['minor']}.{q['micro']}"
                    stats = [dev.get("stats", {}) for dev in await mon.query_blockstats()]
                    out["diskread"] = sum(int(st.get("rd_bytes", 0)) for st in stats)
                    out["diskwrite"] = sum(int(st.get("wr_bytes", 0)) for st in stats)
            except MonitorError as err:
                out["qmpstatus"] = "unknown"
                log.debug("VM %d: QMP status failed: %s", vmid, err)
        else:
            out["qmpstatus"] = "stopped"
        return out

    # --- lifecycle -----------------------------------------------------------
    async def _start(self, vmid: int, tlog: TaskLog) -> None:
        from pyxis.guests.qemu.launch import launch

        await launch(self, vmid, tlog)

    async def stop_vm(self, vmid: int, tlog: TaskLog, timeout: float = 10.0) -> None:
        paths = self.run_paths(vmid)
        if self.pid(vmid) is None:
            tlog.log(f"VM {vmid} is not running")
            return
        pid = self.pid(vmid)
        await runtime.stop(vmid, paths, timeout)
        await taps.remove_all(vmid)
        runtime.remove_cgroup_later(guest_cgroup_name(self.svc.node, vmid), pid)
        tlog.log(f"VM {vmid} stopped")

    async def shutdown_vm(self, vmid: int, tlog: TaskLog, timeout: float, force: bool) -> None:
        pid = self.pid(vmid)
        if pid is None:
            tlog.log(f"VM {vmid} is not running")
            return
        async with Monitor(self.run_paths(vmid).qmp) as mon:
            await mon.system_powerdown()
        tlog.log(f"requested ACPI shutdown of VM {vmid}, waiting up to {int(timeout)} s")
        if await runtime.wait_exit(pid, timeout):
            self.run_paths(vmid).cleanup()
            await taps.remove_all(vmid)
            tlog.log(f"VM {vmid} shut down")
            return
        if not force:
            raise PyxisError(f"VM {vmid} did not shut down within {int(timeout)} s")
        tlog.warn("guest did not shut down in time: stopping it")
        await self.stop_vm(vmid, tlog)

    async def monitor_cmd(self, vmid: int, cmd: str) -> None:
        if self.pid(vmid) is None:
            raise Conflict(f"VM {vmid} not running")
        async with Monitor(self.run_paths(vmid).qmp) as mon:
            if cmd == "reset":
                await mon.system_reset()
            elif cmd == "suspend":
                await mon.stop()
            elif cmd == "resume":
                await mon.cont()
            else:
                raise ValueError(cmd)

    def cgroup_spec(self, vmid: int, cfg: VmConfig) -> CgroupSpec:
        conf = cfg.main
        weight = int(conf["cpuunits"]) if "cpuunits" in conf else None
        quota = None
        if "cpulimit" in conf and float(conf["cpulimit"]) > 0:
            quota = (int(float(conf["cpulimit"]) * 100000), 100000)
        return CgroupSpec(guest_cgroup_name(self.svc.node, vmid), cpu_weight=weight, cpu_max=quota)


def _size_bytes(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(float(text))
