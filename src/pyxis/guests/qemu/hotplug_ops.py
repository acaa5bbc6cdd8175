"""Hotplug primitives: plugging and unplugging one NIC, disk or CD-ROM medium via QMP.

The orchestration (what may be hotplugged, config bookkeeping) is ``hotplug.apply``;
this module does the QMP work for one key.  Device, block node and netdev JSON come
from the command-line builder (``devices.add_nic``, ``drives.add_drives``,
``drives.add_blockdev``, ``devices.place_devices``) run on a config holding just that
key, so a hotplugged device is identical to a cold-plugged one.  PCI bridges are never
hotplugged: a device behind a bridge the VM does not have is not hotpluggable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from pyxis.errors import PyxisError
from pyxis.guests.qemu import devices, drives
from pyxis.guests.qemu.argv import BOOTINDEX_BASE
from pyxis.guests.qemu.cmdline import Cmdline, JsonDict
from pyxis.guests.qemu.facts import NodeFacts, VolumeSource
from pyxis.guests.qemu.keys import is_cdrom, parse_boot_order, parse_drive, parse_net
from pyxis.guests.qemu.qmp import Monitor, MonitorError
from pyxis.network import taps

if TYPE_CHECKING:
    from pyxis.guests.qemu.service import QemuService

log = logging.getLogger("pyxis.qemu.hotplug")
UNPLUG_TIMEOUT = 20.0
BRIDGE_DRIVERS = ("pci-bridge", "i82801b11-bridge")


class NotHotpluggable(PyxisError):
    """This change cannot be applied to the running VM; it stays pending."""


def is_net(key: str) -> bool:
    return key.startswith("net") and key[3:].isdigit()


def bus_of(key: str) -> str:
    return key.rstrip("0123456789")


@dataclass
class PlugContext:
    """What every plug operation of one update needs: the monitor, node facts, the
    machine family and the ids of the devices and objects the VM has now."""

    vmid: int
    mon: Monitor
    facts: NodeFacts
    family: str
    kvm: bool
    peripherals: set[str]
    objects: set[str]


async def refresh(ctx: PlugContext) -> None:
    """Re-read which devices and objects the VM has."""
    periph = cast(
        list[JsonDict], await ctx.mon.execute("qom-list", {"path": "/machine/peripheral"})
    )
    ctx.peripherals = {
        str(p["name"]) for p in periph if str(p.get("type", "")).startswith("child<")
    }
    objs = cast(list[JsonDict], await ctx.mon.execute("qom-list", {"path": "/objects"}))
    ctx.objects = {str(o["name"]) for o in objs if str(o.get("type", "")).startswith("child<")}


def _bootindex(conf: dict[str, str], key: str, value: str) -> int | None:
    order = parse_boot_order({**conf, key: value})
    return BOOTINDEX_BASE + order.index(key) if key in order else None


def _bus_present(ctx: PlugContext, bus: str, added: set[str]) -> bool:
    if bus in ctx.peripherals or bus.rsplit(".", 1)[0] in ctx.peripherals | added:
        return True
    if ctx.family == "i440fx" and bus == "pci.0":
        return True
    return bus == "pcie.0" or bus.startswith("ide.")


def _new_devices(ctx: PlugContext, cmd: Cmdline, key: str) -> list[JsonDict]:
    """Device JSON of ``cmd`` that is not in the VM yet (controllers may exist)."""
    out: list[JsonDict] = []
    added: set[str] = set()
    for dev in devices.place_devices(cmd.devices, cmd.family):
        if dev["driver"] in BRIDGE_DRIVERS:
            continue
        if dev.get("id") in ctx.peripherals:
            if dev.get("id") == key:
                raise NotHotpluggable(f"device '{key}' is already present")
            continue  # a shared controller that is already there
        bus = str(dev.get("bus", ""))
        if bus and not _bus_present(ctx, bus, added):
            raise NotHotpluggable(f"bus '{bus}' of '{dev.get('id')}' is not present")
        out.append(dev)
        added.add(str(dev.get("id")))
    return out


async def plug(
    qemu: QemuService, ctx: PlugContext, key: str, value: str, conf: dict[str, str]
) -> None:
    if is_net(key):
        await _plug_nic(ctx, key, value, conf)
    elif key in conf:
        await _change_medium(qemu, ctx, key, conf[key], value)
    else:
        await _plug_disk(qemu, ctx, key, value, conf)


# -- NICs ----------------------------------------------------------------------------


def _mtu(value: object) -> int | None:
    if value in (None, 1, "1"):
        return None  # 1 means: the bridge's MTU
    return int(str(value))


async def _plug_nic(ctx: PlugContext, key: str, value: str, conf: dict[str, str]) -> None:
    index = int(key[3:])
    facts = ctx.facts
    tap = None if facts.user_net else (facts.tap_script, facts.tap_down_script)
    cmd = Cmdline(facts.qemu_binary, ctx.family)
    devices.add_nic(
        cmd,
        index,
        value,
        vmid=ctx.vmid,
        kvm=ctx.kvm,
        bootindex=_bootindex(conf, key, value),
        tap=tap,
    )
    new = _new_devices(ctx, cmd, key)
    net = parse_net(value)
    name = taps.tap_name(ctx.vmid, index)
    if tap is not None:
        bridge = str(net.get("bridge") or "")
        if not bridge:
            raise NotHotpluggable(f"{key}: no bridge configured")
        await taps.create(
            name,
            bridge,
            mtu=_mtu(net.get("mtu")),
            tag=net.get("tag"),
            rate_mbps=net.get("rate"),
            queues=int(net.get("queues") or 1),
        )
    try:
        await ctx.mon.execute("netdev_add", cmd.netdevs[0])
        try:
            for dev in new:
                await ctx.mon.execute("device_add", dev)
        except BaseException:
            await _quiet(ctx.mon.netdev_del(key))
            raise
        if net.get("link_down"):
            await ctx.mon.set_link(key, False)
    except BaseException:
        await taps.remove(name)
        raise


async def _unplug_nic(ctx: PlugContext, key: str) -> None:
    if key in ctx.peripherals:
        await ctx.mon.device_del(key)
        await _wait_gone(ctx, key)
    await _quiet(ctx.mon.netdev_del(key))
    await taps.remove(taps.tap_name(ctx.vmid, int(key[3:])))


# -- disks ---------------------------------------------------------------------------


async def _sources(qemu: QemuService, key: str, value: str) -> dict[str, VolumeSource]:
    from pyxis.guests.qemu.launch import volume_sources

    return await volume_sources(qemu, {key: value})


async def _add_backend(ctx: PlugContext, cmd: Cmdline) -> list[str]:
    """object-add and blockdev-add what ``cmd`` holds; return the node names added."""
    for obj in cmd.objects:
        if obj["id"] not in ctx.objects:
            await ctx.mon.execute("object-add", obj)
            ctx.objects.add(str(obj["id"]))
    nodes: list[str] = []
    try:
        for node in cmd.blockdevs:
            await ctx.mon.blockdev_add(node)
            nodes.append(str(node["node-name"]))
    except BaseException:
        for name in reversed(nodes):
            await _quiet(ctx.mon.blockdev_del(name))
        raise
    return nodes


async def _plug_disk(
    qemu: QemuService, ctx: PlugContext, key: str, value: str, conf: dict[str, str]
) -> None:
    cmd = Cmdline(ctx.facts.qemu_binary, ctx.family)
    mini = {key: value, "scsihw": conf.get("scsihw", "lsi")}
    boot = _bootindex(conf, key, value)
    drives.add_drives(
        cmd, mini, ctx.facts, await _sources(qemu, key, value), {key: boot} if boot else {}
    )
    new = _new_devices(ctx, cmd, key)
    nodes = await _add_backend(ctx, cmd)
    plugged: list[str] = []
    try:
        for dev in new:
            await ctx.mon.execute("device_add", dev)
            plugged.append(str(dev["id"]))
    except BaseException:
        for did in reversed(plugged):
            await _quiet(ctx.mon.device_del(did))
        for name in reversed(nodes):
            await _quiet(ctx.mon.blockdev_del(name))
        raise


async def _del_nodes(ctx: PlugContext, key: str) -> None:
    """Delete the block nodes (and throttle group) of drive ``key``, top first."""
    names = {
        str(n.get("node-name"))
        for n in cast(
            list[JsonDict], await ctx.mon.execute("query-named-block-nodes", {"flat": True})
        )
    }
    base = f"drive-{key}"
    for name in (f"throttle-{base}", base, f"{base}-file"):
        if name in names:
            await ctx.mon.blockdev_del(name)
    if f"throttle-{base}" in ctx.objects:
        await _quiet(ctx.mon.execute("object-del", {"id": f"throttle-{base}"}))


async def _unplug_disk(ctx: PlugContext, key: str, conf: dict[str, str]) -> None:
    if key in ctx.peripherals:
        await ctx.mon.device_del(key)
        await _wait_gone(ctx, key)
    controller = f"virtioscsi{key[4:]}"
    if bus_of(key) == "scsi" and conf.get("scsihw") == "virtio-scsi-single":
        if controller in ctx.peripherals:
            await ctx.mon.device_del(controller)
            await _wait_gone(ctx, controller)
        await _quiet(ctx.mon.execute("object-del", {"id": f"iothread-{controller}"}))
    await _del_nodes(ctx, key)
    if bus_of(key) == "virtio" and f"iothread-{key}" in ctx.objects:
        await _quiet(ctx.mon.execute("object-del", {"id": f"iothread-{key}"}))


async def _change_medium(qemu: QemuService, ctx: PlugContext, key: str, old: str, new: str) -> None:
    """Swap the medium of cdrom ``key`` (eject when ``new`` is ``none``)."""
    old_drive, new_drive = parse_drive(key, old), parse_drive(key, new)
    if key not in ctx.peripherals:
        raise NotHotpluggable(f"cdrom '{key}' is not present")
    if str(old_drive["file"]) == str(new_drive["file"]):
        return
    if drives.CLOUDINIT_RE.search(str(old_drive["file"])) or drives.CLOUDINIT_RE.search(
        str(new_drive["file"])
    ):
        raise NotHotpluggable(f"{key}: cloud-init drives change at the next start")
    await ctx.mon.execute("blockdev-open-tray", {"id": key, "force": True})
    await _quiet(ctx.mon.execute("blockdev-remove-medium", {"id": key}))
    await _del_nodes(ctx, key)
    file = str(new_drive["file"])
    if file != "none":
        volumes = await _sources(qemu, key, new)
        if file == "cdrom":
            volumes[file] = VolumeSource(path="/dev/cdrom", format="raw", read_only=True)
        if file not in volumes:
            raise NotHotpluggable(f"{key}: no source for '{file}'")
        cmd = Cmdline(ctx.facts.qemu_binary, ctx.family)
        node, _ = drives.add_blockdev(cmd, key, new_drive, volumes[file], ctx.facts)
        await _add_backend(ctx, cmd)
        await ctx.mon.execute("blockdev-insert-medium", {"id": key, "node-name": node})
    await ctx.mon.execute("blockdev-close-tray", {"id": key})


async def unplug(ctx: PlugContext, key: str, value: str, conf: dict[str, str]) -> None:
    """Unplug ``key`` (currently ``value``) and delete its backend."""
    if is_net(key):
        await _unplug_nic(ctx, key)
    elif is_cdrom(parse_drive(key, value)):
        raise NotHotpluggable(f"{key}: a cdrom drive is removed at the next start")
    else:
        await _unplug_disk(ctx, key, conf)


async def _wait_gone(ctx: PlugContext, dev_id: str, timeout: float = UNPLUG_TIMEOUT) -> None:
    """Wait until QEMU has removed ``dev_id`` (the guest acknowledged the unplug)."""
    deadline = time.monotonic() + timeout
    while True:
        await refresh(ctx)
        if dev_id not in ctx.peripherals:
            return
        if time.monotonic() >= deadline:
            raise NotHotpluggable(
                f"device '{dev_id}' was not removed within {int(timeout)} s "
                "(the guest did not release it)"
            )
        await asyncio.sleep(0.1)


async def _quiet(coro: Any) -> None:
    """Run a clean-up step whose failure must not hide the original error."""
    try:
        await coro
    except MonitorError as err:
        log.debug("hotplug clean-up step failed: %s", err)
