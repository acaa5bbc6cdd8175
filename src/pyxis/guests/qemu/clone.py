"""Templates and clones of VMs.

``template`` turns a stopped VM's disks into read-only base volumes (storage
``create_base``: ``vm-N-disk-M`` becomes ``base-N-disk-M``) and marks the config
``template: 1``.  ``clone`` makes a new VM from a VM, a template or one of their
snapshots: a *linked* clone (templates only) gets copy-on-write volumes on top of the
template's bases, a *full* clone independent copies (storage ``copy_image`` or
qemu-img on a stopped VM; on a running VM QEMU mirrors each disk and stops before
switching over, which leaves a point-in-time copy).  The new VM gets fresh MAC
addresses, SMBIOS UUID and VM generation ID; its config carries ``lock: clone`` until
every disk is there, and a failure removes every new volume and the new config.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

import pyxis
from pyxis.errors import Conflict, ParamError, PermissionDenied, PyxisError
from pyxis.guests.orchestrator import Rollback, conf_path
from pyxis.guests.qemu import blockops
from pyxis.guests.qemu.config import VmConfig, render_config
from pyxis.guests.qemu.diskops import copy_volume, human_size, with_file
from pyxis.guests.qemu.features import disk_drives, missing_feature
from pyxis.guests.qemu.keys import mac_generate, parse_net, parse_value, print_value
from pyxis.guests.qemu.qmp import Monitor
from pyxis.storage.volid import parse_volname, split_volid
from pyxis.tasks.manager import TaskLog

if TYPE_CHECKING:
    from pyxis.guests.qemu.service import QemuService

KIND = "qemu"
# never carried over to a clone
DROP = frozenset(
    {"lock", "parent", "snaptime", "snapstate", "vmstate", "template", "meta",
     "runningmachine", "runningcpu"}
)  # fmt: skip


def clone_config(
    source: dict[str, str], vmid: int, name: str | None, description: str | None, mac_prefix: str
) -> dict[str, str]:
    """The new VM's main section (drives still naming the source volumes)."""
    out: dict[str, str] = {}
    for key, value in source.items():
        if key in DROP or key.startswith("unused"):
            continue
        if key.startswith("net") and key[3:].isdigit():
            net = parse_net(value)
            net["macaddr"] = mac_generate(mac_prefix)
            value = print_value(key, net)
        elif key == "smbios1":
            smbios = dict(parse_value(key, value))
            smbios["uuid"] = str(uuid.uuid4())
            value = print_value(key, smbios)
        elif key == "vmgenid" and value != "0":
            value = str(uuid.uuid4())
        out[key] = value
    out.setdefault("smbios1", f"uuid={uuid.uuid4()}")
    out["name"] = name or f"Copy-of-VM-{source.get('name', vmid)}"
    if description:
        out["description"] = description
    out["meta"] = f"creation-qemu={pyxis.__version__},ctime={int(time.time())}"
    return out


class Cloner:
    """Template and clone operations of the VMs of this node."""

    def __init__(self, qemu: QemuService) -> None:
        self.qemu = qemu
        self.svc = qemu.svc

    # -- template -------------------------------------------------------------------

    async def template(self, authid: str, vmid: int, disk: str | None) -> str:
        self._template_checks(vmid, disk)
        cfg, _ = self.qemu.load(vmid)
        key = await missing_feature(self.svc, "template", cfg.main)
        if key is not None and (disk is None or key == disk):
            raise PyxisError(f"template feature is not available (drive '{key}')", status=400)

        async def work(tlog: TaskLog) -> None:
            async with self.qemu.guests.lock(vmid):
                self._template_checks(vmid, disk)
                await self._make_template(vmid, disk, tlog)

        return await self.svc.tasks.start("qmtemplate", str(vmid), authid, work)

    def _template_checks(self, vmid: int, disk: str | None) -> None:
        cfg, _ = self.qemu.load(vmid)
        self.qemu.check_not_locked(cfg)
        if cfg.snapshots:
            raise Conflict("unable to create template, because VM contains snapshots")
        if cfg.main.get("template") == "1" and not disk:
            raise Conflict("you can't convert a template to a template")
        if self.qemu.pid(vmid) is not None:
            raise Conflict("you can't convert a VM to template if VM is running")
        if disk and disk not in disk_drives(cfg.main):
            raise ParamError.one("disk", f"no disk '{disk}' in the VM config")

    async def _make_template(self, vmid: int, disk: str | None, tlog: TaskLog) -> None:
        cfg, dig = self.qemu.load(vmid)
        cfg.main["template"] = "1"
        await self.qemu.save(vmid, cfg, dig)
        for key, file in disk_drives(cfg.main).items():
            if disk and key != disk:
                continue
            sid, volname = split_volid(file)
            plugin = await self.svc.storage.plugin(sid)
            if parse_volname(volname).is_base:
                continue
            base = await plugin.create_base(volname)
            cfg, dig = self.qemu.load(vmid)
            cfg.main[key] = with_file(key, cfg.main[key], f"{sid}:{base}")
            await self.qemu.save(vmid, cfg, dig)
            tlog.log(f"{key}: '{file}' is now base volume '{sid}:{base}'")
        tlog.log(f"VM {vmid} is a template")

    # -- clone ----------------------------------------------------------------------

    async def clone(self, authid: str, vmid: int, p: dict[str, Any]) -> str:
        newid = int(p["newid"])
        if p.get("pool"):
            raise ParamError.one("pool", "pools are not supported yet")
        target = p.get("target")
        if target and target != self.svc.node:
            raise ParamError.one("target", "cloning to another node is not supported")
        if newid == vmid:
            raise ParamError.one("newid", "the new VM needs another ID than the source")
        self.qemu.guests.check_free(newid)
        await self._plan(authid, vmid, p)

        async def work(tlog: TaskLog) -> None:
            async with self.qemu.guests.lock(vmid), self.qemu.guests.lock(newid):
                self.qemu.guests.check_free(newid)
                await self._clone(vmid, newid, await self._plan(authid, vmid, p), p, tlog)

        return await self.svc.tasks.start("qmclone", str(vmid), authid, work)

    async def _plan(self, authid: str, vmid: int, p: dict[str, Any]) -> dict[str, Any]:
        """Check the source and the options; return what ``_clone`` needs."""
        cfg, _ = self.qemu.load(vmid)
        self.qemu.check_not_locked(cfg)
        snapname = p.get("snapname")
        section = cfg.main
        if snapname:
            if snapname not in cfg.snapshots:
                raise ParamError.one("snapname", f"snapshot '{snapname}' does not exist")
            section = cfg.snapshots[snapname]
        is_template = cfg.main.get("template") == "1"
        full = bool(p["full"]) if "full" in p else not is_template
        running = self.qemu.pid(vmid) is not None
        if not full:
            for param in ("storage", "format"):
                if p.get(param):
                    raise ParamError.one(
                        param, f"parameter '{param}' not allowed for linked clones"
                    )
        if running and snapname:
            raise PyxisError("cloning a snapshot of a running VM is not supported", status=400)
        feature = "copy" if full else "clone"
        key = await missing_feature(self.svc, feature, section, snapname)
        if key is not None:
            kind = "Full" if full else "Linked"
            raise PyxisError(f"{kind} clone feature is not supported for drive '{key}'", status=400)
        storages = {split_volid(f)[0] for f in disk_drives(section).values() if ":" in f}
        if full and p.get("storage"):
            storages = {str(p["storage"])}
            self._check_storage(str(p["storage"]))
        for sid in sorted(storages):
            if not self.svc.access.check(authid, f"/storage/{sid}", ["Datastore.AllocateSpace"]):
                raise PermissionDenied(
                    f"Permission check failed (/storage/{sid}, Datastore.AllocateSpace)"
                )
        return {"section": dict(section), "full": full, "running": running}

    def _check_storage(self, sid: str) -> None:
        try:
            section = self.svc.storage.section(sid)
        except Exception as err:
            raise ParamError.one("storage", f"storage '{sid}' does not exist") from err
        if "images" not in (section.get("content") or set()):
            raise ParamError.one("storage", f"storage '{sid}' does not support VM images")
        if not self.svc.storage.enabled_here(section):
            raise ParamError.one("storage", f"storage '{sid}' is not available on this node")

    async def _clone(
        self, vmid: int, newid: int, plan: dict[str, Any], p: dict[str, Any], tlog: TaskLog
    ) -> None:
        section: dict[str, str] = plan["section"]
        mac_prefix = str(self.svc.datacenter().get("mac_prefix") or "BC:24:11")
        main = clone_config(section, vmid, p.get("name"), p.get("description"), mac_prefix)
        path = conf_path(self.svc.node, KIND, newid)
        store = self.svc.store
        async with Rollback() as rollback:
            await store.create(path, b"lock: clone\n", writer=self.svc.node)
            rollback.add(f"remove {path}", lambda: store.delete(path))
            for key, file in disk_drives(section).items():
                if file.startswith("/"):
                    continue  # host paths (root only) are shared, as given
                newvol = await self._clone_disk(vmid, newid, key, file, plan, p, tlog)
                sid, volname = split_volid(newvol)
                plugin = await self.svc.storage.plugin(sid)
                rollback.add(f"free {newvol}", _freer(plugin, volname))
                size, _, _, _ = await plugin.volume_size_info(volname)
                main[key] = with_file(key, main[key], newvol, human_size(size))
            await store.write(
                path, render_config(VmConfig(main=main)).encode(), writer=self.svc.node
            )
            rollback.clear()
        tlog.log(f"VM {newid} created as {'full' if plan['full'] else 'linked'} clone of {vmid}")

    async def _clone_disk(
        self,
        vmid: int,
        newid: int,
        key: str,
        file: str,
        plan: dict[str, Any],
        p: dict[str, Any],
        tlog: TaskLog,
    ) -> str:
        sid, volname = split_volid(file)
        plugin = await self.svc.storage.plugin(sid)
        if not plan["full"]:
            new = f"{sid}:{await plugin.clone_image(volname, newid)}"
            tlog.log(f"{key}: linked clone '{new}' of '{file}'")
            return new
        target = str(p.get("storage") or sid)
        fmt = p.get("format")
        bw = int(p.get("bwlimit") or 0)
        if not plan["running"]:
            tlog.log(f"{key}: copying '{file}' to storage '{target}'")
            return await copy_volume(
                self.svc, file, target, newid, fmt, p.get("snapname"), bwlimit_kib=bw
            )
        size, srcfmt, _, _ = await plugin.volume_size_info(volname)
        tplugin = await self.svc.storage.plugin(target)
        fmt = str(fmt or (srcfmt if srcfmt in tplugin.formats[0] else tplugin.default_format()))
        newname = await tplugin.alloc_image(newid, fmt, None, (size + 1023) // 1024)
        try:
            tlog.log(f"{key}: mirroring the running disk to '{target}:{newname}'")
            async with Monitor(self.qemu.run_paths(vmid).qmp) as mon:
                await blockops.mirror(
                    mon, key, tplugin.path(newname), fmt, pivot=False, speed=bw * 1024, log=tlog
                )
        except BaseException:
            await tplugin.free_image(newname)
            raise
        return f"{target}:{newname}"


def _freer(plugin: Any, volname: str) -> Any:
    return lambda: plugin.free_image(volname)
