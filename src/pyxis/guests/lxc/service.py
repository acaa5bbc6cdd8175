"""Container operations of one node: config access and edits, destroy, listing, status.

The API declares and validates; this module runs operations through the orchestrator's
phases (check arguments -> lock -> check prerequisites -> execute) on the primitives of
this package: the config model (``pyxis.guests.qemu.config`` in its LXC dialect), the
key registry (``keys``), volumes and the LXC runtime.  Creation lives in ``create``,
power operations in ``lifecycle``, snapshots/clones/disks in ``snapshots`` and
``disks``; they all reach the config through this class.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from pyxis.errors import Conflict, NotFound, ParamError, PermissionDenied, PyxisError
from pyxis.guests.cgroups import guest_cgroup_name
from pyxis.guests.lxc import configure, runtime, stats, volumes
from pyxis.guests.lxc.keys import is_root_only, mac_generate, parse_net, parse_value, print_value
from pyxis.guests.orchestrator import CpuSampler, GuestRegistry, conf_path
from pyxis.guests.qemu.config import LXC, VmConfig, digest, parse_config, render_config
from pyxis.guests.qemu.runtime import proc_stats
from pyxis.tasks.manager import TaskLog

if TYPE_CHECKING:
    from pyxis.services import Services

log = logging.getLogger("pyxis.lxc")
KIND = "lxc"
MIB = 1024 * 1024


class LxcService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.guests = GuestRegistry(svc)
        self.lxcpath = runtime.lxcpath_for(svc.paths, svc.node)
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
            return parse_config(text, LXC), digest(text)
        except ValueError as err:
            raise PyxisError(f"CT {vmid}: broken config file: {err}") from err

    async def save(self, vmid: int, cfg: VmConfig, expect_digest: str | None) -> None:
        await self.svc.store.write(
            self.path(vmid),
            render_config(cfg, LXC).encode(),
            expect_digest=expect_digest,
            writer=self.svc.node,
        )

    def ct(self, vmid: int) -> runtime.CtPaths:
        return runtime.CtPaths(self.lxcpath, vmid)

    async def info(self, vmid: int) -> runtime.Info:
        return await runtime.info(self.ct(vmid))

    def fast_info(self, vmid: int) -> runtime.Info:
        """State from the container's cgroup (no LXC command): listings, collector."""
        return runtime.fast_info(self.cgroup_name(vmid))

    def cgroup_name(self, vmid: int) -> str:
        """Machine-unique: the lxcpath's name carries the node and a hash of the root."""
        return guest_cgroup_name(self.lxcpath.name, vmid, KIND)

    async def is_running(self, vmid: int) -> bool:
        return (await self.info(vmid)).state in ("RUNNING", "FROZEN", "STARTING", "FREEZING")

    def check_not_locked(self, cfg: VmConfig, skiplock: bool = False) -> None:
        lock = cfg.main.get("lock")
        if lock and not skiplock:
            raise Conflict(f"CT is locked ({lock})")

    # --- permissions and values ----------------------------------------------
    def check_key_privs(self, authid: str, vmid: int, values: dict[str, str | None]) -> None:
        """Per-key privileges (upstream ``check_ct_modify_config_perm``); host paths,
        devices and raw ``lxc.*`` keys are root@pam only (403 otherwise)."""
        for key, value in values.items():
            if is_root_only(key, value):
                if authid != "root@pam":
                    raise PermissionDenied(f"only root@pam may set '{key}'")
                continue
            priv = configure.privilege_for(key)
            if not self.svc.access.check(authid, f"/vms/{vmid}", [priv]):
                raise PermissionDenied(f"Permission check failed (/vms/{vmid}, {priv})")

    def prepare_values(self, params: dict[str, Any]) -> dict[str, str]:
        """Validate and normalise config values (typed parse, NIC MACs); 400 per key."""
        values: dict[str, str] = {}
        errors: dict[str, str] = {}
        for key, raw in params.items():
            value = str(raw)
            try:
                parse_value(key, value)
                if key.startswith("net") and key[3:].isdigit():
                    net = parse_net(value)
                    if not net.get("hwaddr"):
                        net["hwaddr"] = mac_generate(self._mac_prefix())
                    value = print_value(key, net)
            except ValueError as err:
                errors[key] = str(err)
                continue
            values[key] = value
        if errors:
            raise ParamError(errors)
        return values

    def _mac_prefix(self) -> str:
        return str(self.svc.datacenter().get("mac_prefix") or "BC:24:11")

    # --- update --------------------------------------------------------------
    async def update(self, authid: str, vmid: int, params: dict[str, Any]) -> None:
        from pyxis.guests.lxc import disks

        params = dict(params)
        expect = params.pop("digest", None)
        deletes = configure.split_list(params.pop("delete", None))
        reverts = configure.split_list(params.pop("revert", None))
        configure.check_keys({k: str(v) for k, v in params.items()}, deletes, reverts)
        if not params and not deletes and not reverts:
            raise ParamError.one("delete", "no options specified")
        privs: dict[str, str | None] = {k: str(v) for k, v in params.items()}
        privs.update({k: None for k in [*deletes, *reverts]})
        self.check_key_privs(authid, vmid, privs)
        values = self.prepare_values(params)
        plans = await disks.check_mountpoints(self, authid, vmid, values)
        freed: list[str] = []
        async with self.guests.lock(vmid):
            cfg, dig = self.load(vmid)
            if expect and expect != dig:
                raise Conflict(
                    "detected modified configuration - file changed by other user? Try again."
                )
            self.check_not_locked(cfg)
            if cfg.main.get("protection") == "1" and any(
                configure.is_volume_key(k) or k.startswith("unused") for k in deletes
            ):
                raise Conflict("can't remove mount points of a protected container")
            unpriv = cfg.main.get("unprivileged") == "1"
            await disks.realize_mountpoints(self, vmid, plans, values, unpriv, None)
            configure.revert_pending(cfg, reverts)
            if not await self.is_running(vmid):
                freed = configure.apply_stopped(cfg, values, deletes)
            else:
                now, now_del, later, later_del = configure.split_running(values, deletes)
                freed = configure.apply_stopped(cfg, now, now_del)
                configure.add_pending(cfg, later, later_del, force=False)
                await self.apply_cgroup_live(vmid, cfg, set(now) | set(now_del))
            await self.save(vmid, cfg, dig)
        for volid in freed:
            await volumes.free(self.svc, volid, None)

    async def apply_cgroup_live(self, vmid: int, cfg: VmConfig, changed: set[str]) -> None:
        """Push changed resource limits into a running container's cgroup (best effort)."""
        from pyxis.guests.lxc import lifecycle

        if changed & configure.CGROUP_KEYS:
            await lifecycle.set_limits(self, vmid, cfg.main)

    # --- destroy -------------------------------------------------------------
    async def destroy(
        self, authid: str, vmid: int, purge: bool, unreferenced: bool, force: bool
    ) -> str:
        from pyxis.guests.lxc import lifecycle

        cfg, _ = self.load(vmid)
        if cfg.main.get("protection") == "1":
            raise Conflict("can't remove CT - protection mode enabled")
        self.check_not_locked(cfg)
        if await self.is_running(vmid) and not force:
            raise Conflict(f"CT {vmid} is running - destroy failed")

        async def work(tlog: TaskLog) -> None:
            async with self.guests.lock(vmid):
                if await self.is_running(vmid):
                    await lifecycle.stop(self, vmid, tlog)
                cfg, _ = self.load(vmid)
                await volumes.umount_all(self.ct(vmid).dir)
                vols = configure.referenced_volumes(cfg)
                if unreferenced:
                    vols |= await self.guests.owned_volumes(vmid, {"images", "rootdir"})
                for volid in sorted(vols, key=lambda v: "base-" in v):
                    await volumes.free(self.svc, volid, tlog)
                await self.svc.store.delete(self.path(vmid))
                self.ct(vmid).cleanup()
                tlog.log(f"destroyed CT {vmid}")
            if purge:
                tlog.log("purge: no backup jobs, replication jobs or HA resources reference it")

        return await self.svc.tasks.start("vzdestroy", str(vmid), authid, work)

    # --- listing and status --------------------------------------------------
    def local_vmids(self) -> list[int]:
        return self.guests.local_vmids("lxc")

    def static_status(self, vmid: int, cfg: VmConfig) -> dict[str, Any]:
        """The status fields that come from the config alone (a stopped container)."""
        conf = cfg.main
        cpus = int(conf.get("cores", 0)) or (os.cpu_count() or 1)
        maxdisk = 0
        if "rootfs" in conf:
            size = str(parse_value("rootfs", conf["rootfs"]).get("size") or "0")
            maxdisk = volumes.parse_size(size)
        out: dict[str, Any] = {
            "vmid": vmid,
            "name": conf.get("hostname", f"CT{vmid}"),
            "type": "lxc",
            "status": "stopped",
            "cpus": cpus,
            "maxmem": int(conf.get("memory", 512)) * MIB,
            "maxswap": int(conf.get("swap", 512)) * MIB,
            "maxdisk": maxdisk,
            "mem": 0,
            "swap": 0,
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
        return out

    def basic_status(self, vmid: int, cfg: VmConfig) -> dict[str, Any]:
        out = self.static_status(vmid, cfg)
        info = self.fast_info(vmid)
        if info.pid is None or info.state == "STOPPED":
            return out
        out["status"] = "running"
        out["pid"] = info.pid
        if (ps := proc_stats(info.pid)) is not None:
            out["uptime"] = int(ps.uptime)
        use = stats.usage(info.pid)
        out["mem"], out["swap"] = use.mem, use.swap
        out["cpu"] = round(self.cpu.fraction(vmid, use.cpu_seconds, out["cpus"]), 4)
        out["disk"] = stats.disk_used(self.ct(vmid).rootfs)
        if (live := self.svc.metrics.latest(KIND, vmid)) and live.pid == info.pid:
            out.update(live.counters)
        if info.state == "FROZEN":
            out["frozen"] = 1  # a suspended container still counts as running upstream
        return out

    async def current_status(self, vmid: int) -> dict[str, Any]:
        cfg, _ = self.load(vmid)
        out = self.basic_status(vmid, cfg)
        out["ha"] = {"managed": 0}
        return out
