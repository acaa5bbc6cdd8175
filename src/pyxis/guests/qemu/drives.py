"""Drives: the ``-blockdev`` node graph of each drive, its controller and its device.

Each drive becomes a protocol node ``drive-<key>-file`` (``file``/``host_device``/
``host_cdrom``, or the storage layer's prebuilt node for network storage) under a
format node ``drive-<key>`` (raw/qcow2/vmdk) that QMP block jobs and resizes name.
With I/O limits a ``throttle`` filter ``throttle-drive-<key>`` (its group object has
the same id) sits on top and the device attaches to it.  An empty cdrom (``none``) is
a device without a drive.  Controllers follow upstream: builtin IDE (on q35 the ICH9
AHCI ports ``ide.N``, with upstream's index remapping), one ``ahci0`` for SATA, SCSI
controllers per ``scsihw`` (``virtio-scsi-single`` gets one controller per disk on
``pci.3``), ``virtio-blk-pci`` per virtio disk.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from pyxis.guests.qemu.cmdline import ArgvError, Cmdline, Device, JsonDict, Opts
from pyxis.guests.qemu.facts import EFIVARS_TEMP, NodeFacts, VolumeSource
from pyxis.guests.qemu.keys import drive_keys, is_cdrom, parse_drive

CLOUDINIT_RE = re.compile(r"[:/](?:vm-\d+-)?cloudinit(?:\.(?:raw|qcow2|vmdk))?$")
SCSI_DRIVERS = {
    "lsi": "lsi53c895a",
    "lsi53c810": "lsi53c810",
    "megasas": "megasas",
    "pvscsi": "pvscsi",
    "virtio-scsi-pci": "virtio-scsi-pci",
    "virtio-scsi-single": "virtio-scsi-pci",
}
# drive option -> throttle-group limit; mbps* are MiB/s and scaled to bytes
THROTTLE = {
    **{
        f"{b}{rw}{sfx}": f"{b}-{name}{sfx.replace('_', '-')}"
        for b in ("bps", "iops")
        for rw, name in (("", "total"), ("_rd", "read"), ("_wr", "write"))
        for sfx in ("", "_max", "_max_length")
    },
    **{
        f"mbps{rw}{sfx}": f"bps-{name}{sfx.replace('_', '-')}"
        for rw, name in (("", "total"), ("_rd", "read"), ("_wr", "write"))
        for sfx in ("", "_max")
    },
}
MIB = 1024 * 1024


def _split(key: str) -> tuple[str, int]:
    bus = key.rstrip("0123456789")
    return bus, int(key[len(bus) :])


def _cache(mode: str | None) -> tuple[JsonDict, bool]:
    """blockdev ``cache`` options and whether the device's write cache is on."""
    direct, no_flush, write_cache = {
        "none": (True, False, True),
        "writeback": (False, False, True),
        "writethrough": (False, False, False),
        "directsync": (True, False, False),
        "unsafe": (False, True, True),
    }[mode or "writeback"]
    return {"direct": direct, "no-flush": no_flush}, write_cache


def _source(
    key: str, drive: Mapping[str, Any], facts: NodeFacts, volumes: Mapping[str, VolumeSource]
) -> VolumeSource:
    vol = str(drive["file"])
    if vol in volumes:
        return volumes[vol]
    if vol == "cdrom":
        return VolumeSource(path="/dev/cdrom", format="raw", read_only=True)
    if key == "efidisk0" and EFIVARS_TEMP in volumes:
        return volumes[EFIVARS_TEMP]
    if CLOUDINIT_RE.search(vol) and facts.cloudinit_iso:
        return VolumeSource(path=facts.cloudinit_iso, format="raw", read_only=True)
    raise ArgvError(f"{key}: no source for volume '{vol}'")


def add_blockdev(
    cmd: Cmdline, key: str, drive: Mapping[str, Any], src: VolumeSource, facts: NodeFacts
) -> tuple[str, bool]:
    """Add the node graph of drive ``key``; returns (top node name, write cache on)."""
    cdrom = is_cdrom(drive)
    if drive.get("snapshot"):
        raise ArgvError(f"{key}: snapshot mode is not supported")
    ro = cdrom or bool(drive.get("ro")) or src.read_only
    mode = drive.get("cache") or (None if cdrom else "none")
    cache, write_cache = _cache(mode)
    fmt = src.format or str(drive.get("format") or "raw")
    if fmt not in ("raw", "qcow2", "vmdk"):
        raise ArgvError(f"{key}: unsupported format '{fmt}'")
    name = f"drive-{key}"
    discard = {"discard": "unmap"} if drive.get("discard") == "on" else {}
    if src.blockdev is not None:
        proto: JsonDict = {**src.blockdev, "node-name": f"{name}-file"}
    else:
        path = str(src.path)
        driver = "file"
        if path.startswith("/dev/"):
            driver = "host_cdrom" if cdrom else "host_device"
        aio = drive.get("aio") or (
            "io_uring" if facts.io_uring else "native" if cache["direct"] else "threads"
        )
        if aio == "native" and not cache["direct"]:
            raise ArgvError(f"{key}: aio=native needs cache=none or directsync")
        proto = {"driver": driver, "filename": path, "node-name": f"{name}-file", "aio": aio}
    proto.update({"read-only": ro, "cache": cache, **discard})
    cmd.blockdevs.append(proto)
    fnode: JsonDict = {
        "driver": fmt,
        "node-name": name,
        "file": f"{name}-file",
        "read-only": ro,
        "cache": cache,
        **discard,
    }
    if not cdrom and key != "efidisk0":
        if drive.get("detect_zeroes", 1) in (0, False):
            fnode["detect-zeroes"] = "off"
        else:
            fnode["detect-zeroes"] = "unmap" if discard else "on"
    cmd.blockdevs.append(fnode)
    limits = {
        THROTTLE[opt]: int(float(val) * MIB) if opt.startswith("mbps") else int(val)
        for opt, val in drive.items()
        if opt in THROTTLE and float(val) > 0
    }
    if not limits:
        return name, write_cache
    for limit in limits:
        base = limit.removesuffix("-length").removesuffix("-max")
        if base != limit and base not in limits:
            raise ArgvError(f"{key}: a burst limit ({limit}) needs its base limit ({base})")
    group = f"throttle-{name}"
    cmd.add_object("throttle-group", group, limits=limits)
    cmd.blockdevs.append(
        {"driver": "throttle", "node-name": group, "throttle-group": group, "file": name}
    )
    return group, write_cache


def _scsi_controller(
    cmd: Cmdline, scsihw: str, index: int, iothread: bool, queues: int | None
) -> tuple[str, JsonDict]:
    """Add (once) the controller for scsi``index``; returns (bus, addressing props)."""
    driver = SCSI_DRIVERS[scsihw]
    if scsihw == "virtio-scsi-single":
        cid = f"virtioscsi{index}"
    else:
        cid = f"scsihw{index // 7 if scsihw.startswith('lsi') else 0}"
    if not any(d.id == cid for d in cmd.devices):
        props: JsonDict = {}
        if iothread and driver == "virtio-scsi-pci":
            props["iothread"] = cmd.add_object("iothread", f"iothread-{cid}")
        if queues and driver == "virtio-scsi-pci":
            props["num_queues"] = queues
        cmd.add_device(Device(driver, cid, props, pci=cid))
    if scsihw.startswith(("lsi", "pvscsi")):
        unit = index % 7 if scsihw.startswith("lsi") else index
        return f"{cid}.0", {"scsi-id": unit}
    return f"{cid}.0", {"channel": 0, "scsi-id": 0, "lun": index}


def _ide_bus(cmd: Cmdline, bus: str, index: int) -> tuple[str, JsonDict]:
    if bus == "sata":
        if not any(d.id == "ahci0" for d in cmd.devices):
            cmd.add_device(Device("ahci", "ahci0", {"multifunction": True}, pci="ahci0"))
        return f"ahci0.{index}", {}
    controller, unit = divmod(index, 2)
    if cmd.family == "q35":
        # ICH9 AHCI ports take one unit each; keep even indexes where upstream had them
        controller, unit = controller + 2 * unit, 0
        return f"ide.{controller}", {}
    return f"ide.{controller}", {"unit": unit}


def _device(
    cmd: Cmdline,
    key: str,
    drive: Mapping[str, Any],
    node: str | None,
    write_cache: bool,
    scsihw: str,
    bootindex: int | None,
) -> Device:
    bus, index = _split(key)
    cdrom = is_cdrom(drive)
    kind = "cd" if cdrom else "hd"
    props: JsonDict = {}
    if bus == "virtio":
        if cdrom:
            raise ArgvError(f"{key}: virtio drives cannot be cdroms")
        dev = Device("virtio-blk-pci", key, props, pci=key)
        if drive.get("iothread"):
            props["iothread"] = cmd.add_object("iothread", f"iothread-{key}")
    elif bus == "scsi":
        if scsihw not in SCSI_DRIVERS:
            raise ArgvError(f"scsihw: '{scsihw}' is not supported")
        parent, addressing = _scsi_controller(
            cmd, scsihw, index, bool(drive.get("iothread")), drive.get("queues")
        )
        dev = Device(f"scsi-{kind}", key, props, bus=parent)
        props.update(addressing)
        if not cdrom:
            props.update({k: str(drive[k]) for k in ("vendor", "product") if k in drive})
    else:
        parent, addressing = _ide_bus(cmd, bus, index)
        dev = Device(f"ide-{kind}", key, props, bus=parent)
        props.update(addressing)
        if "model" in drive and not cdrom:
            props["model"] = unquote(str(drive["model"]))
    if node is not None:
        props["drive"] = node
        if not cdrom:
            props["write-cache"] = "on" if write_cache else "off"
    if "serial" in drive:
        props["serial"] = unquote(str(drive["serial"]))
    if "wwn" in drive and bus != "virtio":
        props["wwn"] = int(str(drive["wwn"]), 16)
    if drive.get("ssd") and not cdrom and bus != "virtio":
        props["rotation_rate"] = 1
    if not cdrom:
        props.update({k: str(drive[k]) for k in ("werror", "rerror") if k in drive})
    if bootindex is not None:
        props["bootindex"] = bootindex
    return dev


def add_drives(
    cmd: Cmdline,
    conf: Mapping[str, str],
    facts: NodeFacts,
    volumes: Mapping[str, VolumeSource],
    bootorder: Mapping[str, int],
) -> None:
    """Controllers, node graphs and devices of every ide/sata/scsi/virtio drive."""
    scsihw = conf.get("scsihw", "lsi")
    for key in drive_keys(conf):
        if key in ("efidisk0", "tpmstate0"):
            continue
        drive = parse_drive(key, conf[key])
        node, write_cache = None, True
        if drive["file"] != "none":
            node, write_cache = add_blockdev(
                cmd, key, drive, _source(key, drive, facts, volumes), facts
            )
        elif not is_cdrom(drive):
            raise ArgvError(f"{key}: only a cdrom may be empty")
        cmd.add_device(_device(cmd, key, drive, node, write_cache, scsihw, bootorder.get(key)))


def add_uefi(
    cmd: Cmdline, conf: Mapping[str, str], facts: NodeFacts, volumes: Mapping[str, VolumeSource]
) -> list[tuple[str, str]]:
    """OVMF code (read-only) and variables as pflash nodes; returns -machine props."""
    if facts.ovmf is None:
        raise ArgvError("bios: ovmf is not installed on this node")
    efi = parse_drive("efidisk0", conf["efidisk0"]) if "efidisk0" in conf else {}
    code: str | None = facts.ovmf.code_4m
    if efi.get("efitype", "2m") == "2m" and efi:
        code = facts.ovmf.code_2m
    if efi.get("pre-enrolled-keys"):
        if cmd.family != "q35":
            raise ArgvError("efidisk0: pre-enrolled-keys (secure boot) needs a q35 machine")
        code = facts.ovmf.code_4m_secboot
        cmd.opts.append(("-global", Opts.of(driver="cfi.pflash01", property="secure", value="on")))
    if code is None:
        raise ArgvError(f"efidisk0: no OVMF build for efitype {efi.get('efitype', '2m')}")
    cmd.blockdevs.append(
        {"driver": "file", "filename": code, "node-name": "pflash0-file", "read-only": True}
    )
    cmd.blockdevs.append(
        {"driver": "raw", "node-name": "pflash0", "file": "pflash0-file", "read-only": True}
    )
    if efi:
        src = _source("efidisk0", efi, facts, volumes)
    elif EFIVARS_TEMP in volumes:
        src = volumes[EFIVARS_TEMP]
    else:
        raise ArgvError("bios: ovmf needs an efidisk0 (or a temporary variables copy)")
    vars_node, _ = add_blockdev(cmd, "efidisk0", {**efi, "cache": "writeback"}, src, facts)
    return [("pflash0", "pflash0"), ("pflash1", vars_node)]
