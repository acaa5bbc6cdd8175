"""VM snapshots: create, roll back, delete, describe; each as upstream, in a task.

Phases as everywhere: check arguments -> lock -> check prerequisites -> execute.  The
config carries ``lock: snapshot|rollback|snapshot-delete`` (and the section
``snapstate``) while the disks change, so a crash leaves a visible, repairable state.
Disks of a stopped VM are snapshotted by their storage plugin (qcow2: internal
snapshots via qemu-img); a running VM's disks by QEMU: one ``transaction`` of internal
snapshots for a disk-only snapshot, or a ``snapshot-save`` job that also stores the
RAM state in one of the qcow2 disks (``vmstate``).  Rollback stops the VM, rolls every
disk back offline, restores the config and, for a snapshot with RAM, starts the VM
from that state (``snapshot-load`` before the CPUs run).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pyxis.errors import Conflict, ParamError, PyxisError
from pyxis.guests.qemu import blockops, snapconf
from pyxis.guests.qemu.config import VmConfig, snapshot_tree
from pyxis.guests.qemu.features import missing_feature
from pyxis.guests.qemu.qmp import Monitor
from pyxis.storage.volid import split_volid
from pyxis.tasks.manager import TaskLog

if TYPE_CHECKING:
    from pyxis.guests.qemu.service import QemuService

NOT_AVAILABLE = "snapshot feature is not available"


class Snapshots:
    """Snapshot operations of the VMs of this node (a view on ``QemuService``)."""

    def __init__(self, qemu: QemuService) -> None:
        self.qemu = qemu
        self.svc = qemu.svc

    # -- queries ----------------------------------------------------------------------

    def listing(self, vmid: int) -> list[dict[str, Any]]:
        cfg, dig = self.qemu.load(vmid)
        out = snapshot_tree(cfg)
        out[-1]["digest"] = dig
        out[-1]["running"] = 1 if self.qemu.pid(vmid) is not None else 0
        return out

    def config(self, vmid: int, name: str) -> dict[str, Any]:
        cfg, _ = self.qemu.load(vmid)
        return dict(snapconf.get(cfg, name))

    async def check_snapshot_feature(
        self, section: dict[str, str], snap: str | None = None
    ) -> None:
        key = await missing_feature(self.svc, "snapshot", section, snap)
        if key is not None:
            raise PyxisError(f"{NOT_AVAILABLE} (drive '{key}')", status=400)

    async def _prechecked(self, vmid: int) -> VmConfig:
        cfg, _ = self.qemu.load(vmid)
        snapconf.check_unlocked(cfg)
        return cfg

    # -- description --------------------------------------------------------------------

    async def set_description(self, vmid: int, name: str, description: str | None) -> None:
        async with self.qemu.guests.lock(vmid):
            cfg, dig = self.qemu.load(vmid)
            snap = snapconf.get(cfg, name)
            if description is None:
                return
            if description:
                snap["description"] = description
            else:
                snap.pop("description", None)
            await self.qemu.save(vmid, cfg, dig)

    # -- create -----------------------------------------------------------------------

    async def create(
        self, authid: str, vmid: int, name: str, description: str, vmstate: bool
    ) -> str:
        snapconf.check_name(name)
        cfg = await self._prechecked(vmid)
        if name in cfg.snapshots:
            raise snapconf.SnapshotError(f"snapshot name '{name}' already used")
        await self.check_snapshot_feature(cfg.main)

        async def work(tlog: TaskLog) -> None:
            async with self.qemu.guests.lock(vmid):
                await self._create(vmid, name, description, vmstate, tlog)

        return await self.svc.tasks.start("qmsnapshot", str(vmid), authid, work)

    async def _create(
        self, vmid: int, name: str, description: str, vmstate: bool, tlog: TaskLog
    ) -> None:
        cfg, dig = self.qemu.load(vmid)
        await self.check_snapshot_feature(cfg.main)
        disks = snapconf.disk_volumes(cfg.main)
        running = self.qemu.pid(vmid) is not None
        state_key: str | None = None
        if vmstate and running:
            if not disks:
                raise PyxisError("saving the RAM state needs a qcow2 disk", status=400)
            state_key = next(iter(disks))
        elif vmstate:
            tlog.log("VM is not running: no RAM state to save")
        snapconf.prepare(
            cfg, name, int(time.time()), description, disks[state_key] if state_key else None
        )
        await self.qemu.save(vmid, cfg, dig)
        try:
            if running:
                await self._snapshot_running(vmid, list(disks), state_key, name, tlog)
            else:
                await self._snapshot_stopped(disks, name, tlog)
        except BaseException:
            cfg, dig = self.qemu.load(vmid)
            snapconf.abort(cfg, name)
            await self.qemu.save(vmid, cfg, dig)
            raise
        cfg, dig = self.qemu.load(vmid)
        snapconf.commit(cfg, name)
        await self.qemu.save(vmid, cfg, dig)
        tlog.log(f"snapshot '{name}' of VM {vmid} created")

    async def _snapshot_running(
        self, vmid: int, keys: list[str], state_key: str | None, name: str, tlog: TaskLog
    ) -> None:
        async with Monitor(self.qemu.run_paths(vmid).qmp) as mon:
            if state_key is not None:
                tlog.log(f"saving VM state and disks ({', '.join(keys)}), state in {state_key}")
                await blockops.save_state(mon, keys, state_key, name)
            elif keys:
                tlog.log(f"snapshotting disks {', '.join(keys)} of the running VM")
                await blockops.snapshot_disks(mon, keys, name)

    async def _snapshot_stopped(self, disks: dict[str, str], name: str, tlog: TaskLog) -> None:
        done: list[str] = []
        try:
            for key, volid in disks.items():
                sid, volname = split_volid(volid)
                plugin = await self.svc.storage.plugin(sid)
                await plugin.snapshot(volname, name)
                done.append(volid)
                tlog.log(f"{key}: snapshot of '{volid}' created")
        except BaseException:
            for volid in done:
                await self._delete_volume_snapshot(volid, name, tlog)
            raise

    async def _delete_volume_snapshot(self, volid: str, name: str, tlog: TaskLog) -> None:
        sid, volname = split_volid(volid)
        try:
            plugin = await self.svc.storage.plugin(sid)
            await plugin.delete_snapshot(volname, name)
        except PyxisError as err:
            tlog.warn(f"could not remove snapshot '{name}' of '{volid}': {err.message}")

    # -- rollback -----------------------------------------------------------------------

    async def rollback(self, authid: str, vmid: int, name: str, start: bool) -> str:
        cfg = await self._prechecked(vmid)
        snap = snapconf.get(cfg, name)
        snapconf.rollback_volumes(cfg, name)
        await self.check_snapshot_feature(snap, name)

        async def work(tlog: TaskLog) -> None:
            async with self.qemu.guests.lock(vmid):
                with_state = await self._rollback(vmid, name, tlog)
                if with_state:
                    await self._start_from(vmid, name, tlog)
                elif start:
                    await self.qemu._start(vmid, tlog)

        return await self.svc.tasks.start("qmrollback", str(vmid), authid, work)

    async def _rollback(self, vmid: int, name: str, tlog: TaskLog) -> bool:
        cfg, dig = self.qemu.load(vmid)
        snapconf.check_unlocked(cfg)
        disks = snapconf.rollback_volumes(cfg, name)
        with_state = bool(cfg.snapshots[name].get("vmstate"))
        if self.qemu.pid(vmid) is not None:
            tlog.log("stopping the VM for the rollback")
            await self.qemu.stop_vm(vmid, tlog)
        cfg.main["lock"] = "rollback"
        await self.qemu.save(vmid, cfg, dig)
        for key, volid in disks.items():
            sid, volname = split_volid(volid)
            plugin = await self.svc.storage.plugin(sid)
            await plugin.rollback(volname, name)
            tlog.log(f"{key}: '{volid}' rolled back to '{name}'")
        cfg, dig = self.qemu.load(vmid)
        added = snapconf.apply_rollback(cfg, name)
        for key in added:
            tlog.log(f"{key}: '{cfg.main[key]}' is not part of the snapshot, kept as unused")
        await self.qemu.save(vmid, cfg, dig)
        tlog.log(f"VM {vmid} rolled back to snapshot '{name}'")
        return with_state

    async def _start_from(self, vmid: int, name: str, tlog: TaskLog) -> None:
        """Start the VM with the RAM state saved in snapshot ``name``."""
        from pyxis.guests.qemu.launch import launch

        cfg, _ = self.qemu.load(vmid)
        state_vol = cfg.snapshots[name]["vmstate"]
        disks = snapconf.disk_volumes(cfg.main)
        state_key = next((k for k, v in disks.items() if v == state_vol), None)
        if state_key is None:
            raise PyxisError(f"snapshot '{name}': state disk '{state_vol}' is not attached")

        async def load(mon: Monitor) -> None:
            tlog.log(f"loading the VM state of snapshot '{name}'")
            await blockops.load_state(mon, list(disks), state_key, name)

        await launch(self.qemu, vmid, tlog, before_cont=load)

    # -- delete -------------------------------------------------------------------------

    async def delete(self, authid: str, vmid: int, name: str, force: bool) -> str:
        cfg, _ = self.qemu.load(vmid)
        snapconf.get(cfg, name)
        lock = cfg.main.get("lock")
        if lock and not (force and lock in ("snapshot", "snapshot-delete")):
            raise Conflict(f"VM is locked ({lock})")

        async def work(tlog: TaskLog) -> None:
            async with self.qemu.guests.lock(vmid):
                await self._delete(vmid, name, force, tlog)

        return await self.svc.tasks.start("qmdelsnapshot", str(vmid), authid, work)

    async def _delete(self, vmid: int, name: str, force: bool, tlog: TaskLog) -> None:
        cfg, dig = self.qemu.load(vmid)
        snap = snapconf.mark_delete(cfg, name, force)
        disks = snapconf.disk_volumes(snap)
        await self.qemu.save(vmid, cfg, dig)
        try:
            await self._delete_disks(vmid, disks, name, force, tlog)
        except BaseException:
            if not force:
                cfg, dig = self.qemu.load(vmid)
                cfg.main.pop("lock", None)
                await self.qemu.save(vmid, cfg, dig)
            raise
        cfg, dig = self.qemu.load(vmid)
        snapconf.remove(cfg, name)
        await self.qemu.save(vmid, cfg, dig)
        tlog.log(f"snapshot '{name}' of VM {vmid} removed")

    async def _delete_disks(
        self, vmid: int, disks: dict[str, str], name: str, force: bool, tlog: TaskLog
    ) -> None:
        if self.qemu.pid(vmid) is not None:
            cfg, _ = self.qemu.load(vmid)
            attached = snapconf.disk_volumes(cfg.main)
            live = [k for k, v in attached.items() if v in disks.values()]
            if live:
                async with Monitor(self.qemu.run_paths(vmid).qmp) as mon:
                    await blockops.delete_snapshot(mon, live, name)
                tlog.log(f"removed snapshot '{name}' from running disks {', '.join(live)}")
            disks = {k: v for k, v in disks.items() if v not in attached.values()}
        for key, volid in disks.items():
            sid, volname = split_volid(volid)
            try:
                plugin = await self.svc.storage.plugin(sid)
                await plugin.delete_snapshot(volname, name)
                tlog.log(f"{key}: snapshot '{name}' of '{volid}' removed")
            except PyxisError as err:
                if not force:
                    raise
                tlog.warn(f"{key}: {err.message} (ignored: force)")


def check_description(description: object) -> str:
    text = "" if description is None else str(description)
    if len(text) > 8192:
        raise ParamError.one("description", "description too long")
    return text
