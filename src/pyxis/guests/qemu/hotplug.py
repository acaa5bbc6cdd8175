"""Hotplug: applying NIC and disk changes to a running VM through QMP.

``apply`` is called by ``QemuService.update`` (under the VM lock) with the changes a
running VM cannot take by a config write alone.  What the VM's ``hotplug`` option
allows (default ``network,disk,usb``) is plugged or unplugged now and lands in the main
config section; everything else is handed back and waits in ``[PENDING]`` as before.
A failed hotplug is not an error of the update: the change is left pending, with a
warning.

Hotpluggable: adding or removing a NIC (``network``); adding or removing a virtio
disk, or a SCSI disk on a virtio-scsi controller (``disk``); changing a CD-ROM's
medium (always, as upstream); dropping an ``unusedN`` volume.  The QMP work for one
key is ``hotplug_ops``: the device JSON comes from the command-line builder, so a
hotplugged device is identical to a cold-plugged one (ids, node names, PCI slot).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, cast

from pyxis.errors import PyxisError
from pyxis.guests.qemu import configure
from pyxis.guests.qemu.cmdline import JsonDict
from pyxis.guests.qemu.config import VmConfig
from pyxis.guests.qemu.hotplug_ops import PlugContext, bus_of, is_net, plug, refresh, unplug
from pyxis.guests.qemu.keys import is_cdrom, is_drive_key, parse_drive
from pyxis.guests.qemu.qmp import Monitor, MonitorError

if TYPE_CHECKING:
    from pyxis.guests.qemu.service import QemuService
    from pyxis.tasks.manager import TaskLog

log = logging.getLogger("pyxis.qemu.hotplug")
DEFAULT_FEATURES = "network,disk,usb"
HOTPLUG_BUSES = ("virtio", "scsi")
VIRTIO_SCSI = ("virtio-scsi-pci", "virtio-scsi-single")


def features(conf: dict[str, str]) -> set[str]:
    """The VM's ``hotplug`` features (``0`` none, ``1`` the default set)."""
    raw = conf.get("hotplug", DEFAULT_FEATURES).strip()
    if raw == "0":
        return set()
    if raw == "1":
        raw = DEFAULT_FEATURES
    return {f for f in raw.split(",") if f}


async def apply(
    qemu: QemuService,
    vmid: int,
    cfg: VmConfig,
    changes: dict[str, str],
    deletes: list[str],
    freed: list[str],
    tlog: TaskLog | None = None,
) -> tuple[dict[str, str], list[str]]:
    """Hotplug what can be; return (changes left, deletes left).  Volumes that became
    garbage (a dropped ``unusedN``) are appended to ``freed``."""
    feats = features(cfg.main)
    # an unused volume is not attached: dropping it needs no restart
    for key in [k for k in deletes if k.startswith("unused")]:
        freed += configure.apply_stopped(cfg, {}, [key])
    deletes = [k for k in deletes if not k.startswith("unused")]
    wanted = [k for k in [*deletes, *changes] if _candidate(cfg, k, changes.get(k), feats)]
    if not wanted:
        return changes, deletes
    left_changes = dict(changes)
    left_deletes = list(deletes)
    try:
        async with Monitor(qemu.run_paths(vmid).qmp) as mon:
            ctx = await _context(qemu, vmid, mon)
            for key in wanted:
                try:
                    if key in left_deletes and key in cfg.main:
                        await unplug(ctx, key, cfg.main[key], cfg.main)
                        freed += configure.apply_stopped(cfg, {}, [key])
                        left_deletes.remove(key)
                    elif key in left_changes:
                        value = left_changes[key]
                        await plug(qemu, ctx, key, value, cfg.main)
                        freed += configure.apply_stopped(cfg, {key: value}, [])
                        del left_changes[key]
                    _note(tlog, f"hotplug: {key} applied to the running VM")
                except PyxisError as err:
                    _warn(tlog, f"hotplug of {key} failed, left pending: {err.message}")
    except MonitorError as err:
        _warn(tlog, f"hotplug not possible, changes left pending: {err.message}")
    return left_changes, left_deletes


def _candidate(cfg: VmConfig, key: str, value: str | None, feats: set[str]) -> bool:
    old = cfg.main.get(key)
    if is_net(key):
        # a changed NIC (bridge, model ...) needs a restart; add and remove do not
        return "network" in feats and (value is None) != (old is None)
    if not is_drive_key(key):
        return False
    if value is not None and old is not None:
        try:
            return is_cdrom(parse_drive(key, old)) and is_cdrom(parse_drive(key, value))
        except ValueError:
            return False
    if "disk" not in feats or bus_of(key) not in HOTPLUG_BUSES:
        return False
    if bus_of(key) == "scsi" and cfg.main.get("scsihw", "lsi") not in VIRTIO_SCSI:
        return False
    try:
        drive = parse_drive(key, value if value is not None else str(old))
    except ValueError:
        return False
    return not is_cdrom(drive)


async def _context(qemu: QemuService, vmid: int, mon: Monitor) -> PlugContext:
    from pyxis.guests.qemu.launch import node_facts

    kvm = cast(JsonDict, await mon.execute("query-kvm"))
    machine = str(await mon.execute("qom-get", {"path": "/machine", "property": "type"}))
    facts = await node_facts(qemu, vmid, kvm_usable=bool(kvm.get("enabled")))
    ctx = PlugContext(
        vmid=vmid,
        mon=mon,
        facts=facts,
        family="q35" if "q35" in machine else "i440fx",
        kvm=bool(kvm.get("enabled")),
        peripherals=set(),
        objects=set(),
    )
    await refresh(ctx)
    return ctx


def _note(tlog: TaskLog | None, msg: str) -> None:
    if tlog:
        tlog.log(msg)
    else:
        log.info(msg)


def _warn(tlog: TaskLog | None, msg: str) -> None:
    if tlog:
        tlog.warn(msg)
    else:
        log.warning(msg)
